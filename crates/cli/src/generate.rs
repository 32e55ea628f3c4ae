//! `stflash completions <shell>` and `stflash man`: generated from the clap
//! definition ([`super::args::command`]), so they follow every option.

use std::io::{self, Write};

use super::args::{self, Shell};
use stflash::error::ErrorKind;

/// A completion script for `shell`, completing the command `name`.
pub fn completions(shell: Shell, name: &str, out: &mut dyn Write) {
    let mut cmd = args::command();
    clap_complete::generate(shell, &mut cmd, name, out);
}

/// Escape text for roff (backslashes and leading dots/quotes).
fn roff(text: &str) -> String {
    let t = text.replace('\\', "\\e").replace('-', "\\-");
    if t.starts_with('.') || t.starts_with('\'') {
        format!("\\&{t}")
    } else {
        t
    }
}

/// What an exit code means, for the man page.
fn meaning(kind: ErrorKind) -> &'static str {
    match kind {
        ErrorKind::Usage => "the command line is malformed",
        ErrorKind::Input => "the input file or address is wrong",
        ErrorKind::NoProbe => "no usable ST-LINK (none connected, permission denied, in use, serial not found)",
        ErrorKind::NoTarget => "no usable target (not powered, not answering, unknown chip)",
        ErrorKind::Protected => "the chip or area is read- or write-protected",
        ErrorKind::Flash => "the flash controller reported an error or timed out",
        ErrorKind::Verify => {
            "the memory read back differs from what was written; verify found a difference; blank-check found \
             bytes that are not erased"
        }
        ErrorKind::ProbeIo => "the probe stopped answering or was unplugged",
        ErrorKind::Unsupported => "the operation does not exist (yet) for this chip",
        ErrorKind::Interrupted => "stopped by Ctrl-C or SIGTERM",
        ErrorKind::Other => "any other failure",
    }
}

/// The manual page, roff, section 1: the definition's synopsis, commands,
/// options and examples, then exit status, environment and files.
pub fn man(out: &mut dyn Write) -> io::Result<()> {
    let cmd = args::command().long_about(
        "Write, read and erase the memory of STM32 microcontrollers through ST-LINK probes. \
         stflash accepts st-flash's command lines (same commands, options, number syntax) and adds \
         the extension commands info, recover, completions and man. Options may appear before or after the command.",
    );
    let man = clap_mangen::Man::new(cmd.clone()).source(concat!("stflash ", env!("CARGO_PKG_VERSION")));
    man.render_title(out)?;
    man.render_name_section(out)?;
    writeln!(out, ".SH SYNOPSIS\n.nf\n.nh")?;
    for line in args::synopsis_lines() {
        writeln!(out, "{}", roff(&line.split_whitespace().collect::<Vec<_>>().join(" ")))?;
    }
    writeln!(out, ".hy\n.fi")?;
    man.render_description_section(out)?;
    writeln!(out, ".SH COMMANDS\n.nh\n.ad l")?;
    for sub in cmd.get_subcommands() {
        let about = sub.get_about().map(|a| a.to_string()).unwrap_or_default();
        let forms: Vec<String> = args::synopsis_lines()
            .into_iter()
            .filter(|l| l.split_whitespace().find(|w| !w.starts_with('[') && *w != "stflash") == Some(sub.get_name()))
            .map(|l| format!("\\fB{}\\fR", roff(&l.split_whitespace().collect::<Vec<_>>().join(" "))))
            .collect();
        writeln!(out, ".TP\n{}\n{}", forms.join("\n.TQ\n"), roff(&about))?;
    }
    writeln!(out, ".hy\n.ad b")?;
    man.render_options_section(out)?;
    // The extension commands' own options, in sections named after them.
    for sub in cmd.get_subcommands().filter(|s| args::EXTENSION_WORDS.contains(&s.get_name())) {
        let mut section = Vec::new();
        clap_mangen::Man::new(sub.clone()).render_options_section(&mut section)?;
        let name = sub.get_name().to_uppercase();
        for line in String::from_utf8_lossy(&section).lines() {
            match line.strip_prefix(".SH ") {
                Some(title) => writeln!(out, ".SH \"{name} {}\"", title.trim_matches('"'))?,
                None => writeln!(out, "{line}")?,
            }
        }
    }
    writeln!(out, ".SH EXAMPLES\n.nf")?;
    for line in args::EXAMPLES.lines().skip(1) {
        writeln!(out, "{}", roff(line.trim()))?;
    }
    writeln!(out, ".fi")?;
    writeln!(out, ".SH \"EXIT STATUS\"")?;
    writeln!(out, "0 on success.")?;
    for kind in ErrorKind::ALL {
        writeln!(out, ".TP\n\\fB{}\\fR\n{}: {}", kind.exit_code(), roff(kind.name()), roff(meaning(kind)))?;
    }
    writeln!(out, ".SH ENVIRONMENT")?;
    writeln!(
        out,
        ".TP\n\\fBSTFLASH_SIM\\fR\n{}",
        roff(
            "chip[@faults][:state-file][;...]: use simulated probes instead of USB (same as --sim); \
             @faults gives one probe faults of its own (as in STFLASH_SIM_FAULTS).",
        )
    )?;
    writeln!(
        out,
        ".TP\n\\fBRUST_LOG\\fR\n{}",
        roff(
            "Log filter in env_logger's syntax (e.g. warn, or stflash=debug), used when neither --quiet nor \
             --debug is given: those flags win over it.",
        )
    )?;
    writeln!(out, ".SH FILES")?;
    writeln!(
        out,
        ".TP\n\\fBudev/60\\-stflash.rules\\fR\n{}",
        roff(&format!("Linux udev rules giving access to ST-LINK probes. Install: {}", stflash::UDEV_INSTALL_HINT))
    )?;
    writeln!(out, ".SH \"SEE ALSO\"\nst\\-flash(1), st\\-info(1)")?;
    Ok(())
}
