//! Arguments: st-flash 1.8.0's grammar, plus compatible extensions (options
//! may also follow the command; every parse error has a one-line reason).
//!
//! [`command`] is the one definition of the command line: `--help` prints it
//! through an st-flash-style template, and the man page and the shell
//! completions are generated from it. clap tokenises with it; the st-flash
//! rules (arity per command and area, number syntax, st-flash's own error
//! lines) are applied here after clap.

use std::ffi::OsString;
use std::path::{Path, PathBuf};

use clap::{Arg, ArgAction, ArgMatches, ValueHint};

use super::data::{self, DataItem};
use super::number::{parse_freq, parse_number, NumberError};
use super::serialno::SerialTemplate;
use stflash::mcu::ConnectMode;
use stflash::ops::image::Format;
use stflash::ops::options::{Guards, OptionValue};

/// `--area` values (stlink 1.8.0 src/st-flash/flash_opts.c:127-157).
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
    /// formats that carry addresses. `file` is `None` for `write --data …`
    /// alone.
    WriteFile {
        file: Option<PathBuf>,
        addr: Option<u32>,
        otp: bool,
    },
    /// `erase` or `erase ADDR SIZE`.
    Erase {
        range: Option<(u32, u32)>,
    },
    Reset,
    /// `verify FILE [ADDR]` (extension): is this image on the chip?
    Verify {
        file: PathBuf,
        addr: Option<u32>,
    },
    /// `checksum ADDR SIZE` (extension): zlib's CRC-32 of memory.
    ChecksumRange {
        addr: u32,
        size: u32,
    },
    /// `checksum FILE [ADDR]` (extension): the same for an image, per
    /// segment, without a probe.
    ChecksumFile {
        file: PathBuf,
        addr: Option<u32>,
    },
    /// `blank-check [ADDR SIZE]` (extension): does flash hold the erased value?
    BlankCheck {
        range: Option<(u32, u32)>,
    },
}

impl Command {
    /// Whether a production station runs this command on several boards at
    /// once (`--all-probes`, `--serial A,B,…`): one line per command. Reads
    /// are not among them (one output file, or a value on stdout).
    pub fn runs_on_many_boards(&self) -> bool {
        match self {
            Command::WriteFile { .. } => true,
            Command::Erase { .. } => true,
            Command::Verify { .. } | Command::BlankCheck { .. } => true,
            Command::ChecksumRange { .. } | Command::ChecksumFile { .. } => false,
            Command::WriteOptionValue { .. } => true,
            Command::Reset => true,
            Command::ReadMemory { .. } => false,
            Command::ReadOtp { .. } | Command::ReadOption { .. } | Command::ReadOptionRegister { .. } => false,
        }
    }

    /// One of st-flash's own commands (which print its banner line first),
    /// not one of the checks stflash adds with st-flash's options.
    pub fn is_st_flash(&self) -> bool {
        !matches!(
            self,
            Command::Verify { .. }
                | Command::ChecksumRange { .. }
                | Command::ChecksumFile { .. }
                | Command::BlankCheck { .. }
        )
    }
}

/// A parsed command line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Invocation {
    pub command: Command,
    /// `--format`; `None` when not given (stflash then detects the format).
    pub format: Option<Format>,
    /// `--serial X`: the one probe to use.
    pub serial: Option<String>,
    /// `--serial A,B,…` (a comma makes a list, also of one): a production
    /// run on these probes, in this order. Empty otherwise.
    pub serials: Vec<String>,
    /// `--all-probes`: a production run on every probe found.
    pub all_probes: bool,
    /// `--log FILE`: one JSON line per board appended to it.
    pub log: Option<PathBuf>,
    /// `--freq` in kHz; `None` (or st-flash's 0) = the probe's fastest.
    pub freq_khz: Option<u32>,
    /// `--flash=` in bytes.
    pub flash_size: Option<u32>,
    pub reset: bool,
    /// `--no-run`: the core is left halted (at its reset vector when the
    /// command resets it).
    pub no_run: bool,
    /// `--no-reset`: no reset after write or erase; the core is left as it
    /// was found (running or halted), and SRAM is not used.
    pub no_reset: bool,
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
    /// `--data ADDR=VALUE,…`: bytes written with (over) the file, or alone.
    pub data: Vec<DataItem>,
    /// `--serial-template ADDR=TEMPLATE`: a serial number written with the file.
    pub serial_template: Option<SerialTemplate>,
    /// `--serial-counter FILE`: where the template's `{counter}` comes from.
    pub serial_counter: Option<PathBuf>,
    /// `--json`: one JSON document on stdout, nothing else there.
    pub json: bool,
    /// Warnings about the command line, logged once logging is set up.
    pub warnings: Vec<String>,
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
    /// `recover [--confirm-erase]` (extension).
    Recover(Box<RecoverRequest>),
    /// `doctor [--measure-flash SECTOR [--confirm-erase]]` (extension).
    Doctor(Box<DoctorRequest>),
}

/// `stflash [options] doctor`: walk the connection step by step, stop at
/// the first problem with its cause and what to do, then measure
/// (`stflash::ops::doctor`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DoctorRequest {
    /// `--measure-flash SECTOR`: time erasing and programming this sector
    /// (an index, bank 1 first, or an address in it).
    pub measure_flash: Option<u32>,
    /// `--confirm-erase`: the sector may be erased (it is written back).
    pub confirm_erase: bool,
    pub common: CommonOptions,
}

/// `stflash [options] recover [--confirm-erase]`: bring a chip back to its
/// factory option bytes, erasing it (`stflash::ops::recover`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecoverRequest {
    /// Do it; without: print the plan and exit 2. (`common`'s
    /// `connect_under_reset`: connect under reset at once, otherwise only
    /// when a normal connect fails.)
    pub confirm_erase: bool,
    pub common: CommonOptions,
}

/// The options `info`, `recover` and `doctor` share: which probe, how to
/// connect, what to print.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct CommonOptions {
    /// `--serial X` before the command: only that probe.
    pub serial: Option<String>,
    pub freq_khz: Option<u32>,
    /// `--connect-under-reset`: reset the target while connecting (changes
    /// the target: the user asked).
    pub connect_under_reset: bool,
    pub sim: Option<String>,
    pub debug: bool,
    pub quiet: bool,
    pub json: bool,
}

impl CommonOptions {
    pub fn connect_mode(&self) -> ConnectMode {
        if self.connect_under_reset {
            ConnectMode::UnderReset
        } else {
            ConnectMode::HotPlug
        }
    }
}

/// Shells `completions` knows.
pub use clap_complete::Shell;

/// The st-info questions `info` answers (stlink 1.8.0 `src/st-info/info.c`), plus `--chips`.
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
    /// The chip's 96-bit unique ID, 24 hex digits in address order.
    Uid,
}

impl InfoQuestion {
    /// Every question with its option name and help.
    pub const ALL: [(InfoQuestion, &'static str, &'static str); 9] = [
        (InfoQuestion::Probe, "probe", "Report every probe in st-info --probe's format"),
        (InfoQuestion::Serial, "serial", "Print the selected probe's serial number"),
        (InfoQuestion::Flash, "flash", "Print the flash size (0x10000)"),
        (InfoQuestion::PageSize, "pagesize", "Print the smallest erase unit (0x400)"),
        (InfoQuestion::Sram, "sram", "Print the SRAM size (0x5000)"),
        (InfoQuestion::ChipId, "chipid", "Print the DEV_ID (0x0410)"),
        (InfoQuestion::Descr, "descr", "Print the device name (STM32F1xx_MD)"),
        (InfoQuestion::Chips, "chips", "List the chips stflash knows (no probe needed)"),
        (InfoQuestion::Uid, "uid", "Print the chip's 96-bit unique ID: 24 hex digits, bytes in address order"),
    ];
}

/// `stflash [options] info [question]`: look, never touch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InfoRequest {
    /// `None`: list every probe and its target.
    pub question: Option<InfoQuestion>,
    pub common: CommonOptions,
}

/// A parse failure: the lines printed on stderr, before st-flash's
/// "invalid command line" on stdout and the pointer to `--help`. stflash's
/// reasons are `error:` lines; st-flash's own messages keep their
/// `*** Error:` form and text where scripts may look for them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParseError {
    pub lines: Vec<String>,
}

impl ParseError {
    /// stflash's reason, as one `error:` line.
    fn new(reason: impl std::fmt::Display) -> ParseError {
        ParseError { lines: vec![format!("error: {reason}")] }
    }
    /// st-flash's message, word for word.
    fn st_flash(text: &str) -> ParseError {
        ParseError { lines: vec![format!("*** Error: {text}")] }
    }
    fn expected(what: &str) -> ParseError {
        ParseError::st_flash(&format!("Expected args for this command: {what}"))
    }
    /// A number st-flash's syntax refuses: what is wrong, and what was probably meant.
    fn number(what: &str, text: &str, e: NumberError) -> ParseError {
        let reason = match e {
            NumberError::Negative => "negative numbers are not allowed".to_string(),
            NumberError::TooLarge => "larger than 0xFFFFFFFF".to_string(),
            NumberError::Invalid => match not_octal(text) {
                Some(digit) => {
                    format!("a leading 0 means octal, and {digit} is not an octal digit; for hex write 0x{text}")
                }
                None => "not a number (write 0x… for hex, 0b… for binary, a leading 0 for octal, \
                         else decimal; k or M may follow)"
                    .to_string(),
            },
        };
        ParseError::new(format!("invalid {what} {text}: {reason}"))
    }
}

/// The first digit that is not octal after a leading 0, in a number that
/// was probably meant as hex ("08000000", "0100000A").
fn not_octal(text: &str) -> Option<char> {
    let body = text.trim_end_matches(['k', 'K', 'm', 'M']);
    if body.len() < 2 || !body.starts_with('0') || !body.chars().all(|c| c.is_ascii_hexdigit()) {
        return None;
    }
    body.chars().find(|c| !('0'..='7').contains(c))
}

const COMMAND_WORDS: [&str; 4] = ["read", "write", "erase", "reset"];

/// Extension commands that take st-flash's options (parsed with its
/// grammar): the checks. st-flash rejects these words.
pub const CHECK_WORDS: [&str; 3] = ["verify", "checksum", "blank-check"];

/// Extension command words: st-flash rejects them, so no st-flash command
/// line changes meaning.
pub const EXTENSION_WORDS: [&str; 5] = ["info", "recover", "doctor", "completions", "man"];

/// `--area` values, in st-flash's order.
const AREAS: [&str; 7] = ["main", "system", "otp", "option", "option_boot_add", "optcr", "optcr1"];

/// The pointer printed after a parse error.
pub const HELP_POINTER: &str = "run 'stflash --help' for usage";

/// The one definition of the command line. `--help` prints it through an
/// st-flash-style template, `man` renders it as the manual page and
/// `completions` turns it into shell completions; `info`, `completions` and
/// `man` are parsed with it, and st-flash's command lines with the same
/// options ([`st_flash_parser`]).
///
/// st-flash's commands (read, write, erase, reset) are subcommands here so
/// that help, man page and completions list them; their arguments follow
/// st-flash's grammar, which [`parse`] applies.
pub fn command() -> clap::Command {
    let usage = synopsis_lines().join("\n       ");
    let mut cmd = clap::Command::new("stflash")
        .about("Program STM32 microcontrollers through ST-LINK probes (st-flash compatible)")
        .override_usage(usage)
        .help_template("usage: {usage}\n\n{all-args}{after-help}")
        .subcommand_help_heading("commands")
        .max_term_width(100)
        .disable_help_flag(true)
        .disable_version_flag(true)
        .disable_help_subcommand(true)
        .args_override_self(true)
        .allow_negative_numbers(true)
        .after_help(EXAMPLES)
        // After the arguments of each subcommand in its own help.
        .next_display_order(100)
        .args(options());
    for sub in st_flash_commands() {
        cmd = cmd.subcommand(sub.disable_help_flag(true));
    }
    cmd.subcommand(info_command().arg(help_arg()))
        .subcommand(recover_command())
        .subcommand(doctor_command())
        .subcommand(completions_command())
        .subcommand(
            clap::Command::new("man")
                .disable_help_flag(true)
                .about("Print the manual page (roff) on stdout")
                .help_template(SUB_TEMPLATE)
                .override_usage("stflash man")
                .arg(help_arg()),
        )
}

fn help_arg() -> Arg {
    Arg::new("help")
        .long("help")
        .short_alias('h')
        .action(ArgAction::Help)
        .help("Print this help")
        .help_heading("options")
}

/// A positional argument of an st-flash command.
fn place(name: &'static str, value: &'static str, help: &'static str, hint: ValueHint) -> Arg {
    Arg::new(name).value_name(value).help(help).value_hint(hint)
}

/// An option of an extension subcommand, under the "options" heading.
fn sub_option(name: &'static str, help: &'static str) -> Arg {
    Arg::new(name).long(name).help_heading("options").help(help)
}

/// An extension subcommand: its own help flag and template, and its line of
/// the synopsis (the one containing `marker`) as usage.
fn extension_command(name: &'static str, marker: &str, about: &'static str) -> clap::Command {
    clap::Command::new(name)
        .disable_help_flag(true)
        .arg(help_arg())
        .about(about)
        .help_template(SUB_TEMPLATE)
        .override_usage(synopsis_lines().into_iter().find(|l| l.contains(marker)).unwrap_or_default())
}

/// st-flash's commands and the checks that share their grammar.
fn st_flash_commands() -> [clap::Command; 7] {
    [
        clap::Command::new("read")
            .about("Read memory to a file; with --area=option|optcr|optcr1|option_boot_add print the option value")
            .override_usage("read <file> <addr> <size>")
            .arg(place("file", "FILE", "Output file", ValueHint::FilePath))
            .arg(place("addr", "ADDR", "Start address", ValueHint::Other))
            .arg(place("size", "SIZE", "Bytes to read", ValueHint::Other)),
        clap::Command::new("write")
            .about(
                "Write a file (binary, Intel HEX, S-record, ELF) and/or --data values to flash, the L0/L1 data \
                 EEPROM, RAM or OTP; with an option --area, a value",
            )
            .override_usage("write <file> [addr]\nwrite <value>")
            .arg(place("file", "FILE", "Input file (or the value with an option --area)", ValueHint::FilePath))
            .arg(place("addr", "ADDR", "Address (binary files only)", ValueHint::Other)),
        clap::Command::new("erase")
            .about("Erase the whole flash, or whole sectors of a range")
            .override_usage("erase [<addr> <size>]")
            .arg(place("addr", "ADDR", "Start of the range", ValueHint::Other))
            .arg(place("size", "SIZE", "Size of the range", ValueHint::Other)),
        clap::Command::new("reset").about("Reset the target and let it run").override_usage("reset"),
        clap::Command::new("verify")
            .about(
                "Compare the chip with a file (any format; flash by CRC on the target where it can, else by reading \
                 back), changing nothing in flash; exit 8 naming the first differing sector when they differ",
            )
            .override_usage("verify <file> [addr]")
            .arg(place("file", "FILE", "Image file", ValueHint::FilePath))
            .arg(place("addr", "ADDR", "Address (binary files only)", ValueHint::Other)),
        clap::Command::new("checksum")
            .about(
                "Print the CRC-32 (zlib's, as the crc32 command) of memory, computed on the target, as 0x and 8 hex \
                 digits; of a file's bytes without a probe (one line per segment of a sparse image)",
            )
            .override_usage("checksum <addr> <size>\nchecksum <file> [addr]")
            .arg(place("addr", "ADDR|FILE", "Start address, or an image file", ValueHint::AnyPath))
            .arg(place("size", "SIZE|ADDR", "Bytes to sum (or the address of a binary file)", ValueHint::Other)),
        clap::Command::new("blank-check")
            .about(
                "Check that flash holds its erased value (default: all of it); exit 8 with the first address that \
                 does not",
            )
            .override_usage("blank-check [<addr> <size>]")
            .arg(place("addr", "ADDR", "Start of the range", ValueHint::Other))
            .arg(place("size", "SIZE", "Size of the range", ValueHint::Other)),
    ]
}

fn recover_command() -> clap::Command {
    extension_command(
        "recover",
        "] recover",
        "Bring back a chip that tools can no longer program: connect (under reset when a normal connect fails), \
         remove write protection, lower RDP 1 -> 0 (the chip erases its flash) or erase the flash, restore the \
         factory option bytes, read them back; without --confirm-erase, print the plan and exit 2",
    )
    .arg(
        sub_option("confirm-erase", "Do it: the whole flash (and the L0/L1 data EEPROM at RDP level 1) is erased")
            .action(ArgAction::SetTrue),
    )
}

fn doctor_command() -> clap::Command {
    extension_command(
        "doctor",
        "] doctor",
        "Find out why a probe or a chip does not work: check the probe, its firmware, the target's supply, SWD at \
         every clock, the chip's identity (and clones), read and write protection, the bank options and whether \
         the core halts, stopping at the first problem with its cause and what to do; then measure the USB round \
         trip, SWD throughput at each clock and the CRC units, each beside the value the timing model assumes. \
         Flash and option bytes are not changed (SRAM used for measuring is written back) unless --measure-flash \
         and --confirm-erase ask for it",
    )
    .arg(
        sub_option(
            "measure-flash",
            "Also time erasing this sector and programming its units (its index, bank 1 first, or an address in \
             it); its contents are kept in the journal and written back, then the chip is reset. Needs \
             --confirm-erase",
        )
        .value_name("SECTOR")
        .action(ArgAction::Set),
    )
    .arg(
        sub_option("confirm-erase", "Let --measure-flash erase its sector (written back afterwards)")
            .action(ArgAction::SetTrue),
    )
}

fn completions_command() -> clap::Command {
    extension_command("completions", " completions ", "Print a shell completion script on stdout")
        .arg(
            Arg::new("shell")
                .value_name("SHELL")
                .required(true)
                .value_parser(clap::value_parser!(Shell))
                .help_heading("arguments")
                .help("The shell"),
        )
        .arg(
            sub_option("name", "Command name to complete (e.g. st-flash for a renamed copy)")
                .value_name("NAME")
                .default_value("stflash"),
        )
}

/// The synopsis: one line per command form, as `--help` and the man page show it.
pub fn synopsis_lines() -> Vec<String> {
    let mut questions: Vec<String> = InfoQuestion::ALL.iter().map(|(_, name, _)| format!("--{name}")).collect();
    questions.push("--version".into());
    let mut lines: Vec<String> = [
        "read <file> <addr> <size>",
        "write <file> [addr]",
        "write [<file> [addr]] --data <addr>=<value>[,…]",
        "write <value>           (with an option --area)",
        "erase [<addr> <size>]",
        "reset",
        "verify <file> [addr]",
        "checksum <addr> <size>",
        "checksum <file> [addr]",
        "blank-check [<addr> <size>]",
    ]
    .iter()
    .map(|form| format!("stflash [options] {form}"))
    .collect();
    lines.push(format!("stflash [options] info [{}]", questions.join("|")));
    lines.push("stflash [options] recover [--confirm-erase]".into());
    lines.push("stflash [options] doctor [--measure-flash <sector> --confirm-erase]".into());
    lines.push("stflash completions <bash|zsh|fish|powershell|elvish> [--name <name>]".into());
    lines.push("stflash man".into());
    lines
}

/// `stflash info --help` and the other extension commands' help.
const SUB_TEMPLATE: &str = "usage: {usage}\n\n{about}\n\n{all-args}";

/// The examples that end `--help` and the man page.
pub const EXAMPLES: &str = "\
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
  stflash write --data 0x0800FC00=0x12345678,0x0800FC04=hex:DEADBEEF
  stflash --serial <serial> info --uid
  stflash write firmware.elf --serial-template '0x0800FC00=SN-{counter:6}{nul}' --serial-counter sn.txt
  stflash --all-probes --log station.log write firmware.elf
  stflash --serial <serial>,<serial> erase
  stflash --no-run write firmware.elf
  stflash verify firmware.elf
  stflash checksum 0x8000000 0x10000
  stflash checksum firmware.bin
  stflash blank-check
  stflash --all-probes verify firmware.elf
  stflash recover
  stflash recover --confirm-erase
  stflash doctor
  stflash --json doctor > doctor.json
  stflash doctor --measure-flash 3 --confirm-erase";

fn info_command() -> clap::Command {
    let mut cmd = clap::Command::new("info")
        .disable_help_flag(true)
        .disable_version_flag(true)
        .about(
            "List connected ST-LINKs and their targets without changing anything on the target; \
             or answer one st-info question",
        )
        .help_template(SUB_TEMPLATE)
        .override_usage(synopsis_lines().into_iter().find(|l| l.contains("] info")).unwrap_or_default());
    let mut names = Vec::new();
    for (_, name, help) in InfoQuestion::ALL {
        cmd = cmd.arg(
            Arg::new(name)
                .long(name)
                .action(ArgAction::SetTrue)
                .help(help)
                .help_heading("questions (st-info's; at most one)"),
        );
        names.push(name);
    }
    cmd.arg(
        Arg::new("version")
            .long("version")
            .action(ArgAction::SetTrue)
            .help("Print the version (as st-info --version)")
            .help_heading("questions (st-info's; at most one)"),
    )
    .group(clap::ArgGroup::new("question").args(names).multiple(false))
}

/// Every option, st-flash's and stflash's, in the order `--help` lists them.
/// Those that also apply to `info` are global.
fn options() -> Vec<Arg> {
    let flag = |name: &'static str, help: &'static str| Arg::new(name).long(name).action(ArgAction::SetTrue).help(help);
    let value = |name: &'static str, value_name: &'static str, help: &'static str| {
        Arg::new(name).long(name).value_name(value_name).action(ArgAction::Set).help(help)
    };
    let guard_heading = "option bytes (a change that needs one of these is refused without it)";
    let options = vec![
        value("freq", "kHz", "SWD clock in kHz, suffix k or M (default: the probe's fastest)").global(true),
        value(
            "serial",
            "serial",
            "Use the ST-LINK with this serial number; a comma-separated list runs write, erase, verify, \
             blank-check, option writes or reset on each of them in parallel",
        ),
        flag(
            "all-probes",
            "Run write, erase, verify, blank-check, option writes or reset on every connected ST-LINK in parallel",
        ),
        value(
            "log",
            "FILE",
            "Append one JSON line per board to FILE (time, probe, chip, UID, input and its CRC-32, result)",
        )
        .value_hint(ValueHint::FilePath),
        flag("connect-under-reset", "Hold NRST while connecting, then halt at the reset vector").global(true),
        flag("hot-plug", "Connect without resetting the target (the default)").global(true),
        flag("reset", "Reset the target after the command"),
        flag(
            "no-run",
            "Leave the core halted after the command: at the reset vector after write, erase, reset or --reset; \
             else where it stopped",
        ),
        flag(
            "no-reset",
            "No reset after write or erase: the core is left as stflash found it (running on, or halted); \
             flash is then programmed without the RAM routine, so SRAM and core registers stay intact",
        ),
        value("format", "format", "File format; default: detected from the file (binary files need an address)")
            .value_parser(["binary", "ihex"]),
        Arg::new("flash")
            .long("flash")
            .value_name("size")
            .require_equals(true)
            .action(ArgAction::Set)
            .help("Override the detected flash size (only --flash=<size>)"),
        value("area", "area", "Memory area (default: main)").value_parser(AREAS),
        value(
            "data",
            "ADDR=VALUE,…",
            "With write: also (or only) write these values, keeping every other byte; VALUE is a number \
             (a 32-bit little-endian word) or hex:BYTES (0x08007FF0=hex:DEADBEEF01); may be repeated",
        )
        .action(ArgAction::Append),
        value(
            "serial-template",
            "ADDR=TEMPLATE",
            "With write: also write a serial number at ADDR made from TEMPLATE: text with {counter}, \
             {counter:6}, {counter:8X}, {counter:le32}, {uid}, {uid:raw}, {nul} (README: serial numbers)",
        ),
        value(
            "serial-counter",
            "FILE",
            "The file {counter} comes from: the next number, taken under a lock and committed after the write is \
             verified (create it with the first number)",
        )
        .value_hint(ValueHint::FilePath),
        flag("mass-erase", "Erase the whole flash before writing, or with erase"),
        flag("erase-rest", "Erase the unwritten rest of written sectors (st-flash's behaviour) instead of keeping it"),
        value(
            "verify",
            "how",
            "auto (default): by CRC on the target where it can be trusted, else by reading back; readback: always \
             read back (write, verify, blank-check, checksum)",
        )
        .value_parser(["auto", "readback"]),
        value(
            "sim",
            "chip[:state]",
            "Use the built-in simulator (same as STFLASH_SIM); the state file keeps the chip between runs",
        )
        .global(true),
        flag("quiet", "Print only errors (wins over RUST_LOG and --debug)").global(true),
        flag("decode", "Print the decoded option bytes on stdout (default: stderr)"),
        flag("json", "Print one JSON document with the result on stdout, and nothing else there").global(true),
        flag("opt", "Accepted for compatibility: stflash never programs erased units anyway"),
        flag("debug", "Show debug messages and USB traffic (wins over RUST_LOG)").global(true),
        flag("version", "Print the version"),
        Arg::new("help").long("help").short_alias('h').action(ArgAction::SetTrue).help("Print this help"),
        flag("permanently-lock-chip", "RDP level 2: debug disabled, options frozen, for good")
            .help_heading(guard_heading),
        flag("unprotect-and-erase-chip", "RDP level 1 -> 0: the chip erases its whole flash")
            .help_heading(guard_heading),
        flag("allow-read-protection", "RDP level 0 -> 1: flash unreadable over SWD").help_heading(guard_heading),
        flag("allow-write-protection", "Write-protect sectors").help_heading(guard_heading),
        flag("allow-bank-config", "Dual-bank and bank-swap options").help_heading(guard_heading),
        flag("allow-boot-config", "Boot addresses and boot options").help_heading(guard_heading),
        flag("write-otp-permanently", "Program OTP (it can never be erased)").help_heading(guard_heading),
    ];
    options.into_iter().map(|a| if a.get_help_heading().is_none() { a.help_heading("options") } else { a }).collect()
}

/// The parser of st-flash's command lines: the same options, and the command
/// word with its arguments as plain words (checked per command and area by
/// [`command_from_words`]).
fn st_flash_parser() -> clap::Command {
    clap::Command::new("stflash")
        .disable_help_flag(true)
        .disable_version_flag(true)
        .args_override_self(true)
        .allow_negative_numbers(true)
        .args(options())
        .arg(Arg::new("words").value_name("COMMAND").num_args(0..).action(ArgAction::Append))
}

/// Parse `argv` (without the program name).
pub fn parse<I, T>(args: I) -> Result<Parsed, ParseError>
where
    I: IntoIterator<Item = T>,
    T: Into<OsString> + Clone,
{
    let args: Vec<OsString> = args.into_iter().map(Into::into).collect();
    // st-flash prints its version as soon as it sees --version among the
    // leading options, whatever follows (stlink 1.8.0
    // src/st-flash/flash_opts.c:98-100).
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
    let parser = st_flash_parser();
    let matches = parser
        .clone()
        .try_get_matches_from(std::iter::once(OsString::from("stflash")).chain(args))
        .map_err(|e| clap_error(&e))?;
    if matches.get_flag("help") {
        return Ok(Parsed::Help);
    }
    if matches.get_flag("version") {
        return Ok(Parsed::Version);
    }
    from_matches(&matches).map(|i| Parsed::Run(Box::new(i)))
}

/// `--help`: the definition through its st-flash-style template.
pub fn help() -> String {
    command().render_help().to_string()
}

/// The synopsis block that begins `--help` ("usage: stflash [options] read …").
pub fn usage_block() -> String {
    format!("usage: {}\n", synopsis_lines().join("\n       "))
}

/// The first argument that is neither an option nor an option's value: the
/// command word. Decides between st-flash's grammar and an extension command.
fn first_word(args: &[OsString]) -> Option<&str> {
    let cmd = st_flash_parser();
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
    COMMAND_WORDS.iter().chain(&CHECK_WORDS).chain(&EXTENSION_WORDS).find(|w| **w == word).copied()
}

/// `info`, `completions`, `man`, with the options that make sense for them.
fn parse_extension(args: Vec<OsString>) -> Result<Parsed, ParseError> {
    let words: Vec<&str> = args.iter().filter_map(|a| a.to_str()).collect();
    if let Some(i) = words.iter().position(|w| *w == "info") {
        // st-info prints its version when --version comes first, whatever follows.
        if words.get(i + 1) == Some(&"--version") {
            return Ok(Parsed::Version);
        }
        // After `info`, --serial is st-info's question and takes no value.
        if let Some(pair) = words[i..].windows(2).find(|w| w[0] == "--serial" && !w[1].starts_with('-')) {
            return Err(ParseError::new(format!(
                "after info, --serial asks for the serial number and takes no value; \
                 to choose the probe put it first: stflash --serial {} info",
                pair[1]
            )));
        }
    }
    let matches = match command().try_get_matches_from(std::iter::once(OsString::from("stflash")).chain(args.clone())) {
        Ok(m) => m,
        Err(e) if e.kind() == clap::error::ErrorKind::DisplayHelp => return Ok(Parsed::Print(e.render().to_string())),
        Err(e) => return Err(misplaced_after(&e, first_word(&args)).unwrap_or_else(|| clap_error(&e))),
    };
    if matches.get_flag("help") {
        return Ok(Parsed::Help);
    }
    let (name, sub) = matches.subcommand().expect("the first word is an extension command");
    // Options of st-flash's commands that mean nothing here are refused, not ignored.
    let misplaced: Vec<String> = [
        "area",
        "format",
        "flash",
        "reset",
        "no-run",
        "no-reset",
        "opt",
        "mass-erase",
        "erase-rest",
        "verify",
        "data",
        "serial-template",
        "serial-counter",
        "all-probes",
        "log",
    ]
    .into_iter()
    .filter(|id| matches.value_source(id) == Some(clap::parser::ValueSource::CommandLine))
    .map(|id| format!("--{id}"))
    .chain(
        (!["info", "recover", "doctor"].contains(&name)
            && matches.value_source("serial") == Some(clap::parser::ValueSource::CommandLine))
        .then(|| "--serial".to_string()),
    )
    .collect();
    if !misplaced.is_empty() {
        let verb = if misplaced.len() == 1 { "does" } else { "do" };
        return Err(ParseError::new(format!("{} {verb} not apply to {name}", misplaced.join(", "))));
    }
    let json = sub.get_flag("json");
    let common = CommonOptions {
        serial: matches.get_one::<String>("serial").cloned().filter(|s| !s.is_empty()),
        freq_khz: match sub.get_one::<String>("freq") {
            None => None,
            Some(f) => freq(f)?,
        },
        connect_under_reset: sub.get_flag("connect-under-reset"),
        sim: sub.get_one::<String>("sim").cloned(),
        debug: sub.get_flag("debug"),
        quiet: sub.get_flag("quiet"),
        json,
    };
    match name {
        "completions" | "man" if json => Err(ParseError::new(format!("--json does not apply to {name}"))),
        "completions" => Ok(Parsed::Completions {
            shell: *sub.get_one::<Shell>("shell").expect("required"),
            name: sub.get_one::<String>("name").cloned().unwrap_or_else(|| "stflash".into()),
        }),
        "man" => Ok(Parsed::Man),
        "recover" => Ok(Parsed::Recover(Box::new(RecoverRequest {
            confirm_erase: sub.get_flag("confirm-erase"),
            common: common.clone(),
        }))),
        "doctor" => {
            let measure_flash = match sub.get_one::<String>("measure-flash") {
                Some(text) => Some(number(text, "sector")?),
                None => None,
            };
            if sub.get_flag("confirm-erase") && measure_flash.is_none() {
                return Err(ParseError::new(
                    "--confirm-erase lets --measure-flash erase its sector; give the sector: --measure-flash SECTOR",
                ));
            }
            Ok(Parsed::Doctor(Box::new(DoctorRequest {
                measure_flash,
                confirm_erase: sub.get_flag("confirm-erase"),
                common: common.clone(),
            })))
        }
        _ if sub.get_flag("version") => Ok(Parsed::Version),
        _ => {
            let question = InfoQuestion::ALL.iter().find(|(_, n, _)| sub.get_flag(n)).map(|q| q.0);
            if json && question.is_some() {
                return Err(ParseError::new("--json reports everything; leave out the st-info question (or --json)"));
            }
            Ok(Parsed::Info(Box::new(InfoRequest { question, common: common.clone() })))
        }
    }
}

/// An option of st-flash's commands given after an extension command
/// (`info --data …`): it does not apply there.
fn misplaced_after(e: &clap::Error, command: Option<&str>) -> Option<ParseError> {
    use clap::error::{ContextKind, ContextValue};
    let (Some(ContextValue::String(arg)), Some(command)) = (e.get(ContextKind::InvalidArg), command) else {
        return None;
    };
    let long = arg.strip_prefix("--")?.split('=').next()?;
    options()
        .iter()
        .any(|o| o.get_long() == Some(long))
        .then(|| ParseError::new(format!("--{long} does not apply to {command}")))
}

/// `--freq`: kHz, 0 or empty = the probe's fastest.
fn freq(f: &str) -> Result<Option<u32>, ParseError> {
    match parse_freq(f) {
        Some(0) => Ok(None),
        Some(k) => Ok(Some(k)),
        None => Err(ParseError::new(format!(
            "invalid --freq {f}: give kHz as digits with an optional k or M suffix (4000, 4M)"
        ))),
    }
}

/// A clap error as one line: the reason in our words, with a suggestion
/// for a misspelt option; st-flash's own line for a bad `--format`.
fn clap_error(e: &clap::Error) -> ParseError {
    use clap::error::{ContextKind, ContextValue, ErrorKind as Kind};
    let context = |kind| match e.get(kind) {
        Some(ContextValue::String(s)) => s.clone(),
        _ => String::new(),
    };
    let arg = context(ContextKind::InvalidArg);
    let option = arg.split([' ', '=']).next().unwrap_or_default().to_string();
    match e.kind() {
        Kind::UnknownArgument if !arg.starts_with('-') => ParseError::new(format!("unexpected argument {arg}")),
        Kind::UnknownArgument => {
            let typed = option.trim_start_matches('-');
            // An option of an extension command given without it.
            let owner = command()
                .get_subcommands()
                .find(|s| s.get_arguments().any(|a| a.get_long() == Some(typed)))
                .map(|s| s.get_name().to_string());
            if let Some(owner) = owner {
                return ParseError::new(format!("{option} is an option of {owner}: stflash {owner} {option}"));
            }
            let known = long_options();
            match closest(typed, known.iter().map(String::as_str)) {
                Some(best) => ParseError::new(format!("unknown option {arg}; did you mean --{best}?")),
                None => ParseError::new(format!("unknown option {arg}")),
            }
        }
        Kind::MissingRequiredArgument if matches!(e.get(ContextKind::InvalidArg), Some(ContextValue::Strings(a)) if a.iter().any(|a| a == "<SHELL>")) => {
            ParseError::new("completions needs the shell: bash, zsh, fish, powershell or elvish")
        }
        Kind::InvalidValue | Kind::NoEquals | Kind::ValueValidation => {
            let value = context(ContextKind::InvalidValue);
            match option.as_str() {
                // st-flash's message, word for word (also for `--format write f.hex`).
                "--format" if !value.is_empty() => ParseError::st_flash("Invalid value for format"),
                "--flash" if e.kind() == Kind::NoEquals => {
                    ParseError::new("--flash takes its value after '=', as in st-flash: --flash=<size>")
                }
                _ if value.is_empty() => ParseError::new(format!("{option} needs a value")),
                "--area" => {
                    let case = if AREAS.contains(&value.to_lowercase().as_str()) { " (lower case)" } else { "" };
                    ParseError::new(format!(
                        "unknown --area {value}; use main, system, otp, option, option_boot_add, optcr or optcr1{case}"
                    ))
                }
                "--verify" => ParseError::new(format!("unknown --verify {value}; use auto or readback")),
                "<SHELL>" => {
                    ParseError::new(format!("unknown shell {value}; use bash, zsh, fish, powershell or elvish"))
                }
                _ => ParseError::new(clap_reason(e)),
            }
        }
        _ => ParseError::new(clap_reason(e)),
    }
}

/// clap's first error line without its "error: " prefix.
fn clap_reason(e: &clap::Error) -> String {
    let text = e.render().to_string();
    let line = text.lines().next().unwrap_or("invalid arguments");
    line.trim_start_matches("error: ").to_string()
}

/// Every long option of the definition (subcommands' too), without dashes.
fn long_options() -> Vec<String> {
    let cmd = command();
    let mut names: Vec<String> = Vec::new();
    for arg in cmd.get_arguments().chain(cmd.get_subcommands().flat_map(|s| s.get_arguments())) {
        if let Some(long) = arg.get_long() {
            if !names.iter().any(|n| n == long) {
                names.push(long.to_string());
            }
        }
    }
    names
}

/// The candidate nearest to `typed` by edit distance (insertions, deletions,
/// substitutions and swaps of neighbours), when it is near enough to be a
/// typing slip: at most 2 edits, and fewer than half the word.
fn closest<'a>(typed: &str, candidates: impl Iterator<Item = &'a str>) -> Option<&'a str> {
    let limit = 2.min(typed.chars().count().saturating_sub(1) / 2).max(1);
    candidates
        .map(|c| (edit_distance(typed, c), c))
        .filter(|&(d, _)| d <= limit)
        .min_by_key(|&(d, _)| d)
        .map(|(_, c)| c)
}

/// Optimal string alignment distance.
fn edit_distance(a: &str, b: &str) -> usize {
    let (a, b): (Vec<char>, Vec<char>) = (a.chars().collect(), b.chars().collect());
    let mut d = vec![vec![0usize; b.len() + 1]; a.len() + 1];
    for (i, row) in d.iter_mut().enumerate() {
        row[0] = i;
    }
    for (j, cell) in d[0].iter_mut().enumerate() {
        *cell = j;
    }
    for i in 1..=a.len() {
        for j in 1..=b.len() {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            let mut v = (d[i - 1][j] + 1).min(d[i][j - 1] + 1).min(d[i - 1][j - 1] + cost);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                v = v.min(d[i - 2][j - 2] + 1);
            }
            d[i][j] = v;
        }
    }
    d[a.len()][b.len()]
}

fn from_matches(m: &ArgMatches) -> Result<Invocation, ParseError> {
    let get = |name: &str| m.get_one::<String>(name).cloned();
    // clap checked the values of --area, --format and --verify.
    let area = get("area").and_then(|a| Area::parse(&a)).unwrap_or(Area::Main);
    let format = match get("format").as_deref() {
        Some("ihex") => Some(Format::IntelHex),
        Some(_) => Some(Format::Binary),
        None => None,
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
            Err(e) => return Err(ParseError::number("--flash size", &f, e)),
        },
    };
    let serial_text = get("serial").filter(|s| !s.is_empty());
    let (serial, serials) = match serial_text {
        Some(list) if list.contains(',') => (None, serial_list(&list)?),
        other => (other, Vec::new()),
    };
    let all_probes = m.get_flag("all-probes");
    if all_probes && (serial.is_some() || !serials.is_empty()) {
        return Err(ParseError::new("--all-probes and --serial both choose probes; give one"));
    }
    let verify_readback = get("verify").as_deref() == Some("readback");
    let words: Vec<String> = m.get_many::<String>("words").map(|w| w.cloned().collect()).unwrap_or_default();
    let data = data_items(m)?;
    let without_file = !data.is_empty() || m.get_one::<String>("serial-template").is_some();
    let command = command_from_words(&words, area, format, without_file)?;
    check_after(m, &command)?;
    if !command.is_st_flash() {
        if let Some(flag) = ["mass-erase", "erase-rest"].into_iter().find(|f| m.get_flag(f)) {
            return Err(ParseError::new(format!("--{flag} does not apply to {}", words[0])));
        }
    }
    if !data.is_empty() && !matches!(command, Command::WriteFile { .. }) {
        return Err(ParseError::new("--data applies to write (to flash, RAM or OTP)"));
    }
    let (serial_template, serial_counter) = serial_number(m, &command)?;
    if (all_probes || !serials.is_empty()) && !command.runs_on_many_boards() {
        return Err(ParseError::new(
            "several probes (--all-probes, --serial A,B) run write, erase, verify, blank-check, option writes \
             and reset; run reads and checksums one probe at a time",
        ));
    }
    let mut warnings = Vec::new();
    if command == Command::Reset && words.len() > 1 {
        warnings.push(format!("reset ignores its arguments: {}", words[1..].join(" ")));
    }
    Ok(Invocation {
        command,
        format,
        serial,
        freq_khz,
        flash_size,
        reset: m.get_flag("reset"),
        no_run: m.get_flag("no-run"),
        no_reset: m.get_flag("no-reset"),
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
        data,
        serial_template,
        serial_counter,
        serials,
        all_probes,
        log: get("log").map(PathBuf::from),
        warnings,
    })
}

/// `--serial A,B,…`: the serials, each once.
fn serial_list(text: &str) -> Result<Vec<String>, ParseError> {
    let list: Vec<String> = text.split(',').map(str::trim).filter(|s| !s.is_empty()).map(String::from).collect();
    if list.is_empty() {
        return Err(ParseError::new("--serial with a comma needs at least one serial number"));
    }
    for (i, s) in list.iter().enumerate() {
        if list[..i].iter().any(|t| t.eq_ignore_ascii_case(s)) {
            return Err(ParseError::new(format!("--serial names {s} twice")));
        }
    }
    Ok(list)
}

/// `--serial-template` and `--serial-counter`, checked against each other
/// and the command.
fn serial_number(m: &ArgMatches, command: &Command) -> Result<(Option<SerialTemplate>, Option<PathBuf>), ParseError> {
    let counter = m.get_one::<String>("serial-counter").map(PathBuf::from);
    let Some(text) = m.get_one::<String>("serial-template") else {
        if counter.is_some() {
            return Err(ParseError::new("--serial-counter goes with --serial-template"));
        }
        return Ok((None, None));
    };
    if !matches!(command, Command::WriteFile { .. }) {
        return Err(ParseError::new("--serial-template applies to write (to flash, RAM or OTP)"));
    }
    let template =
        SerialTemplate::parse(text).map_err(|e| ParseError::new(format!("invalid --serial-template {text}: {e}")))?;
    match (template.uses_counter(), &counter) {
        (true, None) => Err(ParseError::new(
            "the --serial-template uses {counter}: name the counter file with --serial-counter FILE",
        )),
        (false, Some(_)) => {
            Err(ParseError::new("--serial-counter is given but the --serial-template has no {counter}"))
        }
        _ => Ok((Some(template), counter)),
    }
}

/// Every `--data` value, items checked and not overlapping.
fn data_items(m: &ArgMatches) -> Result<Vec<DataItem>, ParseError> {
    let mut items = Vec::new();
    for text in m.get_many::<String>("data").into_iter().flatten() {
        items.extend(data::parse_items(text).map_err(|e| ParseError::new(format!("invalid --data {text}: {e}")))?);
    }
    data::check_overlaps(&items).map_err(ParseError::new)?;
    Ok(items)
}

/// `--no-reset` and `--no-run` against the options and the command they
/// could contradict.
fn check_after(m: &ArgMatches, command: &Command) -> Result<(), ParseError> {
    if !m.get_flag("no-reset") {
        return Ok(());
    }
    if m.get_flag("reset") {
        return Err(ParseError::new("--reset and --no-reset contradict each other; give one"));
    }
    if *command == Command::Reset {
        return Err(ParseError::new("reset with --no-reset would do nothing; leave out --no-reset"));
    }
    if m.get_flag("connect-under-reset") {
        return Err(ParseError::new(
            "--no-reset leaves the core as stflash found it, but --connect-under-reset resets it while connecting; \
             to leave it halted at its reset vector use --no-run",
        ));
    }
    Ok(())
}

fn number(text: &str, what: &str) -> Result<u32, ParseError> {
    parse_number(text).map_err(|e| ParseError::number(what, text, e))
}

/// An option value: st-flash's number, or `NAME=VALUE[,NAME=VALUE…]`.
fn option_value(text: &str) -> Result<OptionValue, ParseError> {
    if !text.contains('=') {
        return number(text, "value").map(OptionValue::Word);
    }
    let mut items = Vec::new();
    for item in text.split(',').map(str::trim).filter(|i| !i.is_empty()) {
        let Some((name, value)) = item.split_once('=') else {
            return Err(ParseError::new(format!("{item:?} is not NAME=VALUE")));
        };
        items.push((name.trim().to_string(), number(value.trim(), "value")?));
    }
    Ok(OptionValue::Assign(items))
}

/// The numbers of a command (`(text, what)` in order) where one word is not
/// a number: when the words look swapped (the one that is not a number is
/// not where the file goes), say so and show the command line meant.
fn numbers_after_file(command: &str, words: &[String], names: &[&str]) -> Result<Vec<u32>, ParseError> {
    let parsed: Vec<Result<u32, NumberError>> = words[1..].iter().map(|w| parse_number(w)).collect();
    let Some(bad) = parsed.iter().position(Result::is_err) else {
        return Ok(parsed.into_iter().map(|p| p.expect("checked")).collect());
    };
    let not_numbers = parsed.iter().filter(|p| p.is_err()).count();
    if not_numbers == 1 && parse_number(&words[0]).is_ok() {
        let mut meant: Vec<&str> = vec![&words[bad + 1]];
        meant.extend(words.iter().enumerate().filter(|(i, _)| *i != bad + 1).map(|(_, w)| w.as_str()));
        let what = if names.len() == 1 { "the address comes" } else { "the numbers come" };
        return Err(ParseError::new(format!(
            "{} is not {}; {what} after the file: {command} {}",
            words[bad + 1],
            if names[bad] == "size" { "a size" } else { "an address" },
            meant.join(" ")
        )));
    }
    Err(ParseError::number(names[bad], &words[bad + 1], parsed[bad].expect_err("checked")))
}

/// The command and its positional arguments, checked per command and area (stlink 1.8.0
/// src/st-flash/flash_opts.c:246-390).
fn command_from_words(words: &[String], area: Area, format: Option<Format>, data: bool) -> Result<Command, ParseError> {
    let Some((word, args)) = words.split_first() else {
        return Err(ParseError::new("no command given; use read, write, erase, reset, verify or info"));
    };
    let is_command = |w: &str| COMMAND_WORDS.contains(&w) || CHECK_WORDS.contains(&w);
    if !is_command(word) {
        let known = COMMAND_WORDS.iter().chain(&CHECK_WORDS).chain(&EXTENSION_WORDS).copied();
        return Err(ParseError::new(match closest(word, known) {
            Some(best) => format!("unknown command {word:?}; did you mean {best}?"),
            None => format!("unknown command {word:?}; use read, write, erase, reset, verify or info"),
        }));
    }
    if let Some(second) = args.first().filter(|a| is_command(a)) {
        return Err(ParseError::new(format!("two commands given ({word} and {second})")));
    }
    match (word.as_str(), area) {
        ("read", area) => read_command(args, area),
        ("write", area) => write_command(args, area, format, data),
        (check, area) if CHECK_WORDS.contains(&check) => check_command(check, args, area),
        ("erase", _) => match args {
            [] => Ok(Command::Erase { range: None }),
            [addr, size] => Ok(Command::Erase { range: Some((number(addr, "address")?, number(size, "size")?)) }),
            _ => Err(ParseError::new("erase takes no arguments (whole flash) or exactly two: <addr> <size>")),
        },
        _ => Ok(Command::Reset),
    }
}

/// `read` in each area.
fn read_command(args: &[String], area: Area) -> Result<Command, ParseError> {
    let path = |s: &String| PathBuf::from(s);
    match area {
        Area::Main | Area::System => match args {
            [file, ..] if args.len() == 3 => {
                let n = numbers_after_file("read", args, &["address", "size"])?;
                Ok(Command::ReadMemory { file: path(file), addr: n[0], size: n[1] })
            }
            _ => Err(ParseError::expected("read <path> <addr> <size>")),
        },
        Area::Otp => match args {
            [file] => Ok(Command::ReadOtp { file: path(file) }),
            _ => Err(ParseError::expected("otp read: [path]")),
        },
        Area::Option => match args {
            [] => Ok(Command::ReadOption { file: None }),
            [file] => Ok(Command::ReadOption { file: Some(path(file)) }),
            [file, size] => {
                number(size, "size")?;
                Ok(Command::ReadOption { file: Some(path(file)) })
            }
            _ => Err(ParseError::expected("option bytes read: [path] [size]")),
        },
        area => match args {
            [] => Ok(Command::ReadOptionRegister { area }),
            _ => Err(ParseError::expected(match area {
                Area::OptionBootAdd => "option bytes boot_add read",
                Area::Optcr => "option control register read",
                _ => "option control register 1 read",
            })),
        },
    }
}

/// `write` in each area: a value into an option area, or a file (and
/// `--data`) into memory or OTP.
fn write_command(args: &[String], area: Area, format: Option<Format>, data: bool) -> Result<Command, ParseError> {
    match area {
        Area::Option | Area::OptionBootAdd | Area::Optcr | Area::Optcr1 => match args {
            [value] => Ok(Command::WriteOptionValue { area, value: option_value(value)? }),
            _ => Err(ParseError::expected(match area {
                Area::Option => "option byte write <value>",
                Area::OptionBootAdd => "option bytes boot_add write <value>",
                Area::Optcr => "option control register write <value>",
                _ => "option control register 1 write <value>",
            })),
        },
        _ => {
            let otp = area == Area::Otp;
            let path = |s: &String| Some(PathBuf::from(s));
            match (format, args) {
                (_, []) if data => Ok(Command::WriteFile { file: None, addr: None, otp }),
                (Some(Format::Binary), [file, _]) | (None, [file, _]) => {
                    let addr = numbers_after_file("write", args, &["address"])?[0];
                    Ok(Command::WriteFile { file: path(file), addr: Some(addr), otp })
                }
                (Some(Format::Binary), _) => Err(ParseError::expected("write <path> <addr>")),
                (Some(_), [file]) | (None, [file]) => Ok(Command::WriteFile { file: path(file), addr: None, otp }),
                (Some(_), _) => Err(ParseError::expected("write <path>")),
                (None, _) => Err(ParseError::expected("write <path> <addr>")),
            }
        }
    }
}

/// `verify`, `checksum`, `blank-check`: main memory only.
fn check_command(word: &str, args: &[String], area: Area) -> Result<Command, ParseError> {
    let path = |s: &String| PathBuf::from(s);
    match word {
        _ if area != Area::Main => Err(ParseError::new(format!("--area={} does not apply to {word}", area.name()))),
        "verify" => match args {
            [file] => Ok(Command::Verify { file: path(file), addr: None }),
            [file, _] => {
                let addr = numbers_after_file("verify", args, &["address"])?[0];
                Ok(Command::Verify { file: path(file), addr: Some(addr) })
            }
            _ => Err(ParseError::new("verify takes the file, and its address for a binary file: verify <file> [addr]")),
        },
        "checksum" => match args {
            // Two numbers are a range of memory; otherwise a file.
            [addr, size] if parse_number(addr).is_ok() => {
                Ok(Command::ChecksumRange { addr: number(addr, "address")?, size: number(size, "size")? })
            }
            [addr] if parse_number(addr).is_ok() && !Path::new(addr).exists() => Err(ParseError::new(format!(
                "checksum of memory takes the size too: checksum {addr} <size> (or name an existing file)"
            ))),
            [file] => Ok(Command::ChecksumFile { file: path(file), addr: None }),
            [file, addr] => Ok(Command::ChecksumFile { file: path(file), addr: Some(number(addr, "address")?) }),
            _ => Err(ParseError::new(
                "checksum takes a range of memory or a file: checksum <addr> <size>, or checksum <file> [addr]",
            )),
        },
        "blank-check" => match args {
            [] => Ok(Command::BlankCheck { range: None }),
            [addr, size] => Ok(Command::BlankCheck { range: Some((number(addr, "address")?, number(size, "size")?)) }),
            _ => Err(ParseError::new("blank-check takes no arguments (all flash) or exactly two: <addr> <size>")),
        },
        _ => unreachable!("{word} is not a check"),
    }
}

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
    fn the_checks_parse_with_st_flash_options() {
        let c = |args: &[&str]| run(args).unwrap().command;
        assert_eq!(c(&["verify", "fw.elf"]), Command::Verify { file: "fw.elf".into(), addr: None });
        assert_eq!(
            c(&["verify", "fw.bin", "0x8000000"]),
            Command::Verify { file: "fw.bin".into(), addr: Some(0x0800_0000) }
        );
        assert_eq!(c(&["checksum", "0x8000000", "64k"]), Command::ChecksumRange { addr: 0x0800_0000, size: 65536 });
        assert_eq!(c(&["checksum", "fw.hex"]), Command::ChecksumFile { file: "fw.hex".into(), addr: None });
        assert_eq!(c(&["blank-check"]), Command::BlankCheck { range: None });
        assert_eq!(
            c(&["--serial", "A,B", "blank-check", "0x8000000", "0x400"]),
            Command::BlankCheck { range: Some((0x0800_0000, 0x400)) }
        );
        assert!(run(&["--verify=readback", "verify", "fw.elf"]).unwrap().verify_readback);
        assert_eq!(
            err(&["blank-check", "0x8000000"])[0],
            "error: blank-check takes no arguments (all flash) or exactly two: <addr> <size>"
        );
        assert_eq!(
            err(&["verify", "0x8000000", "fw.bin"])[0],
            "error: fw.bin is not an address; the address comes after the file: verify fw.bin 0x8000000"
        );
        assert_eq!(err(&["verify", "checksum", "fw.bin"])[0], "error: two commands given (verify and checksum)");
        assert_eq!(err(&["verfy", "fw.elf"])[0], "error: unknown command \"verfy\"; did you mean verify?");
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
        assert_eq!(i.command, Command::WriteFile { file: Some("f.bin".into()), addr: Some(0x0800_0000), otp: false });
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

    const NOT_A_NUMBER: &str = "not a number (write 0x… for hex, 0b… for binary, a leading 0 for octal, \
                                else decimal; k or M may follow)";

    #[test]
    fn row_09_leading_zero_is_octal() {
        assert_eq!(
            err(&["read", "f", "08000000", "4"]),
            vec![
                "error: invalid address 08000000: a leading 0 means octal, and 8 is not an octal digit; \
                 for hex write 0x08000000"
            ]
        );
    }

    #[test]
    fn row_10_number_forms() {
        let i = run(&["read", "f", "0x08000000", "4k"]).unwrap();
        assert_eq!(i.command, Command::ReadMemory { file: "f".into(), addr: 0x0800_0000, size: 4096 });
        let i = run(&["read", "f", "134217728", "+12"]).unwrap();
        assert_eq!(i.command, Command::ReadMemory { file: "f".into(), addr: 0x0800_0000, size: 12 });
    }

    #[test]
    fn row_11_too_large_or_negative() {
        assert_eq!(
            err(&["read", "f", "0", "0x100000000"]),
            vec!["error: invalid size 0x100000000: larger than 0xFFFFFFFF"]
        );
        assert_eq!(err(&["read", "f", "0", "-1"]), vec!["error: invalid size -1: negative numbers are not allowed"]);
        assert_eq!(err(&["erase", "-4", "1"]), vec!["error: invalid address -4: negative numbers are not allowed"]);
    }

    #[test]
    fn row_12_bad_suffixes() {
        for size in ["5G", "4kk", "4096x"] {
            assert_eq!(err(&["read", "f", "0", size]), vec![format!("error: invalid size {size}: {NOT_A_NUMBER}")]);
        }
    }

    #[test]
    fn swapped_arguments_are_named() {
        assert_eq!(
            err(&["write", "0x08000000", "fw.bin"]),
            vec!["error: fw.bin is not an address; the address comes after the file: write fw.bin 0x08000000"]
        );
        assert_eq!(
            err(&["read", "0x08000000", "0x1000", "out.bin"]),
            vec!["error: out.bin is not a size; the numbers come after the file: read out.bin 0x08000000 0x1000"]
        );
        // Not a swap: the file is not a number either.
        assert_eq!(err(&["write", "fw.bin", "main"]), vec![format!("error: invalid address main: {NOT_A_NUMBER}")]);
    }

    #[test]
    fn misspelt_options_and_commands_get_a_suggestion() {
        assert_eq!(err(&["--rest", "write", "f", "0"]), vec!["error: unknown option --rest; did you mean --reset?"]);
        assert_eq!(
            err(&["--mass-erse", "erase"]),
            vec!["error: unknown option --mass-erse; did you mean --mass-erase?"]
        );
        assert_eq!(err(&["info", "--chipdi"]), vec!["error: unknown option --chipdi; did you mean --chipid?"]);
        assert_eq!(err(&["wirte", "f", "0"]), vec!["error: unknown command \"wirte\"; did you mean write?"]);
        // Nothing close: no guess.
        assert_eq!(err(&["--foo", "erase"]), vec!["error: unknown option --foo"]);
        // An option of info without info.
        assert_eq!(err(&["--chipid"]), vec!["error: --chipid is an option of info: stflash info --chipid"]);
        assert_eq!(err(&["completions", "bash", "extra"]), vec!["error: unexpected argument extra"]);
        assert_eq!(
            err(&["completions", "tcsh"]),
            vec!["error: unknown shell tcsh; use bash, zsh, fish, powershell or elvish"]
        );
        assert_eq!(
            err(&["completions"]),
            vec!["error: completions needs the shell: bash, zsh, fish, powershell or elvish"]
        );
    }

    #[test]
    fn edit_distance_counts_a_swap_as_one() {
        assert_eq!(edit_distance("rest", "reset"), 1);
        assert_eq!(edit_distance("chipdi", "chipid"), 1);
        assert_eq!(edit_distance("", "abc"), 3);
        assert_eq!(edit_distance("kitten", "sitting"), 3);
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
            Command::WriteFile { file: Some("f".into()), addr: None, otp: false }
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
        assert_eq!(err(&["--flash=128x", "erase"]), vec![format!("error: invalid --flash size 128x: {NOT_A_NUMBER}")]);
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
        assert_eq!(err(&["--area=option", "read", "f", "x"]), vec![format!("error: invalid size x: {NOT_A_NUMBER}")]);
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
            vec![format!("error: invalid value f.hex: {NOT_A_NUMBER}")]
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
        assert_eq!(
            err(&["--area=option", "write", "RDP=0xZZ"]),
            vec![format!("error: invalid value 0xZZ: {NOT_A_NUMBER}")]
        );
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
        assert_eq!((r.common.serial.as_deref(), r.question), (Some("ABC"), Some(InfoQuestion::Flash)));
        let r = info(&["info", "--serial"]);
        assert_eq!((r.common.serial, r.question), (None, Some(InfoQuestion::Serial)));
        // st-info's trailing connection options, and ours, on either side.
        let r = info(&["info", "--probe", "--connect-under-reset", "--freq=4000"]);
        assert!(r.common.connect_under_reset);
        assert_eq!(r.common.freq_khz, Some(4000));
        let r = info(&["--sim", "f103", "--json", "info"]);
        assert!(r.common.json);
        assert_eq!(r.common.sim.as_deref(), Some("f103"));
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
            Command::WriteFile { file: Some("info".into()), addr: Some(0x2000_0000), otp: false }
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
