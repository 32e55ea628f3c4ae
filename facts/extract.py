#!/usr/bin/env python3
"""Extract the STM32 register facts stflash depends on from ST's CMSIS device
headers (and, for what CMSIS leaves out, ST's HAL flash headers), and write
them as a line-oriented fixture.

    python3 extract.py ROOT [-o facts.txt] [--sources sources.txt]

ROOT is a directory holding the header repositories, found up to four
levels down, as git work trees, bare git directories (read at HEAD) or plain
directories:

  * ``cmsis-device-<fam>`` (STMicroelectronics; any owner is accepted, ST's
    own repository is preferred when two are present), directory ``Include/``;
  * ``cmsis-header-stm32`` (modm-io's copy of every family's ``Include/``,
    CRLF->LF and trailing blanks stripped, line numbers unchanged), used only
    for a family no ``cmsis-device-<fam>`` repository provides;
  * ``stm32<fam>xx-hal-driver``, files ``Inc/stm32<fam>xx_hal_flash.h``,
    ``Inc/stm32<fam>xx_hal_flash_ex.h``, ``Inc/stm32<fam>xx_ll_utils.h`` and,
    for the bank rules only, ``Src/stm32<fam>xx_hal_flash*.c``.

A mirror directory of ``owner+name/repo`` bare git directories works as
ROOT as it is.

Output format (one record per line, whitespace-separated, ``#`` comments):

    source <repo> <commit> <path>              a file read
    device <dev_id> <stem> [<stem> ...]        headers describing one DEV_ID
    same <stem> <rep>                          <stem>'s facts are <rep>'s, value for value
    fact <stem> <NAME> <value> <file>:<line>   one fact of one header

Values: ``0x...`` numbers (addresses, keys, offsets, masks), ``pos:width``
bit fields (from ``NAME_Pos`` / ``NAME_Msk``), comma lists (``X.fields``),
or a C expression with blanks removed (``X.expr``, when ST computes it at run
time). Names are ST's macro names; struct offsets are ``TYPE_TypeDef.MEMBER``.

The script is deterministic: the same inputs give the same bytes out.
Python 3.8+, standard library only.
"""

import argparse
import os
import re
import subprocess
import sys

# ---------------------------------------------------------------------------
# Which headers describe which DEV_ID.
#
# (dev_id, family, [stems]) -- the first stem represents the DEV_ID. The
# DEV_IDs are those of stflash's chip table (every row). DEV_IDs are not in
# CMSIS; which parts share one comes from the reference manuals' DBGMCU_IDCODE
# sections, AN2606, OpenOCD src/flash/nor/stm32l4x.h and stm32h7x.c, and
# stlink's config/chips files (the chip table cites them per row).

DEVICES = [
    # F0
    (0x444, "f0", ["stm32f030x6", "stm32f031x6", "stm32f038xx"]),
    (0x445, "f0", ["stm32f042x6", "stm32f048xx", "stm32f070x6"]),
    (0x440, "f0", ["stm32f051x8", "stm32f058xx", "stm32f030x8"]),
    (0x448, "f0", ["stm32f072xb", "stm32f071xb", "stm32f078xx", "stm32f070xb"]),
    (0x442, "f0", ["stm32f091xc", "stm32f098xx", "stm32f030xc"]),
    # F1
    (0x412, "f1", ["stm32f103x6", "stm32f101x6", "stm32f102x6"]),
    (0x410, "f1", ["stm32f103xb", "stm32f101xb", "stm32f102xb"]),
    (0x414, "f1", ["stm32f103xe", "stm32f101xe"]),
    (0x418, "f1", ["stm32f105xc", "stm32f107xc"]),
    (0x420, "f1", ["stm32f100xb"]),
    (0x428, "f1", ["stm32f100xe"]),
    (0x430, "f1", ["stm32f103xg", "stm32f101xg"]),
    # F3
    (0x439, "f3", ["stm32f302x8", "stm32f301x8", "stm32f318xx"]),
    (0x422, "f3", ["stm32f303xc", "stm32f302xc", "stm32f358xx"]),
    (0x446, "f3", ["stm32f303xe", "stm32f302xe", "stm32f398xx"]),
    (0x438, "f3", ["stm32f334x8", "stm32f303x8", "stm32f328xx"]),
    (0x432, "f3", ["stm32f373xc", "stm32f378xx"]),
    # F2
    (0x411, "f2", ["stm32f207xx", "stm32f205xx", "stm32f215xx", "stm32f217xx"]),
    # F4
    (0x413, "f4", ["stm32f407xx", "stm32f405xx", "stm32f415xx", "stm32f417xx"]),
    (0x419, "f4", ["stm32f429xx", "stm32f427xx", "stm32f437xx", "stm32f439xx"]),
    (0x434, "f4", ["stm32f469xx", "stm32f479xx"]),
    (0x423, "f4", ["stm32f401xc"]),
    (0x433, "f4", ["stm32f401xe"]),
    (0x458, "f4", ["stm32f410rx", "stm32f410cx", "stm32f410tx"]),
    (0x431, "f4", ["stm32f411xe"]),
    (0x441, "f4", ["stm32f412zx", "stm32f412cx", "stm32f412rx", "stm32f412vx"]),
    (0x463, "f4", ["stm32f413xx", "stm32f423xx"]),
    (0x421, "f4", ["stm32f446xx"]),
    # F7
    (0x452, "f7", ["stm32f722xx", "stm32f723xx", "stm32f730xx", "stm32f732xx", "stm32f733xx"]),
    (0x449, "f7", ["stm32f746xx", "stm32f745xx", "stm32f750xx", "stm32f756xx"]),
    (0x451, "f7", ["stm32f767xx", "stm32f765xx", "stm32f769xx", "stm32f777xx", "stm32f779xx"]),
    # H7
    (0x450, "h7", ["stm32h743xx", "stm32h742xx", "stm32h750xx", "stm32h753xx",
                   "stm32h745xx", "stm32h747xx", "stm32h755xx", "stm32h757xx"]),
    (0x483, "h7", ["stm32h723xx", "stm32h725xx", "stm32h730xx", "stm32h733xx", "stm32h735xx"]),
    (0x480, "h7", ["stm32h7a3xx", "stm32h7b3xx", "stm32h7b0xx", "stm32h7a3xxq"]),
    # L0
    (0x457, "l0", ["stm32l011xx", "stm32l021xx", "stm32l010x4"]),
    (0x425, "l0", ["stm32l031xx", "stm32l041xx", "stm32l010x6"]),
    (0x417, "l0", ["stm32l053xx", "stm32l051xx", "stm32l052xx", "stm32l062xx", "stm32l063xx", "stm32l010x8"]),
    (0x447, "l0", ["stm32l073xx", "stm32l071xx", "stm32l072xx", "stm32l081xx", "stm32l082xx",
                   "stm32l083xx", "stm32l010xb"]),
    # L1
    (0x416, "l1", ["stm32l152xb", "stm32l151xb", "stm32l100xb"]),
    (0x429, "l1", ["stm32l152xba", "stm32l151xba", "stm32l100xba"]),
    (0x427, "l1", ["stm32l152xc", "stm32l151xc", "stm32l162xc", "stm32l100xc"]),
    (0x436, "l1", ["stm32l152xd", "stm32l151xd", "stm32l162xd", "stm32l151xca", "stm32l152xca", "stm32l162xca"]),
    (0x437, "l1", ["stm32l152xe", "stm32l151xe", "stm32l162xe", "stm32l151xdx", "stm32l152xdx", "stm32l162xdx"]),
    # L4, L4+
    (0x464, "l4", ["stm32l412xx", "stm32l422xx"]),
    (0x435, "l4", ["stm32l432xx", "stm32l431xx", "stm32l433xx", "stm32l442xx", "stm32l443xx"]),
    (0x462, "l4", ["stm32l452xx", "stm32l451xx", "stm32l462xx"]),
    (0x415, "l4", ["stm32l476xx", "stm32l471xx", "stm32l475xx", "stm32l486xx"]),
    (0x461, "l4", ["stm32l496xx", "stm32l4a6xx"]),
    (0x471, "l4", ["stm32l4p5xx", "stm32l4q5xx"]),
    (0x470, "l4", ["stm32l4r5xx", "stm32l4r7xx", "stm32l4r9xx", "stm32l4s5xx", "stm32l4s7xx", "stm32l4s9xx"]),
    # G0
    (0x466, "g0", ["stm32g031xx", "stm32g030xx", "stm32g041xx"]),
    (0x456, "g0", ["stm32g051xx", "stm32g050xx", "stm32g061xx"]),
    (0x460, "g0", ["stm32g071xx", "stm32g070xx", "stm32g081xx"]),
    (0x467, "g0", ["stm32g0b1xx", "stm32g0b0xx", "stm32g0c1xx"]),
    # G4
    (0x468, "g4", ["stm32g431xx", "stm32g441xx"]),
    (0x469, "g4", ["stm32g474xx", "stm32g471xx", "stm32g473xx", "stm32g483xx", "stm32g484xx"]),
    (0x479, "g4", ["stm32g491xx", "stm32g4a1xx"]),
    # C0
    (0x443, "c0", ["stm32c011xx"]),
    (0x453, "c0", ["stm32c031xx"]),
    (0x44C, "c0", ["stm32c051xx"]),
    (0x493, "c0", ["stm32c071xx"]),
    (0x44D, "c0", ["stm32c091xx", "stm32c092xx"]),
    # U0
    (0x459, "u0", ["stm32u031xx"]),
    (0x489, "u0", ["stm32u073xx", "stm32u083xx"]),
    # WB, WL
    (0x495, "wb", ["stm32wb55xx", "stm32wb50xx", "stm32wb5mxx"]),
    (0x496, "wb", ["stm32wb35xx", "stm32wb30xx"]),
    (0x497, "wl", ["stm32wle5xx", "stm32wle4xx", "stm32wl55xx", "stm32wl54xx"]),
    # L5, U5, H5
    (0x472, "l5", ["stm32l552xx", "stm32l562xx"]),
    (0x455, "u5", ["stm32u535xx", "stm32u545xx"]),
    (0x482, "u5", ["stm32u575xx", "stm32u585xx"]),
    (0x481, "u5", ["stm32u595xx", "stm32u599xx", "stm32u5a5xx", "stm32u5a9xx"]),
    (0x476, "u5", ["stm32u5f7xx", "stm32u5f9xx", "stm32u5g7xx", "stm32u5g9xx"]),
    (0x484, "h5", ["stm32h563xx", "stm32h562xx", "stm32h573xx"]),
    (0x474, "h5", ["stm32h503xx"]),
    (0x478, "h5", ["stm32h523xx", "stm32h533xx"]),
    # WBA5, U3 (the L5/U5 controller), H7R/S
    (0x492, "wba", ["stm32wba55xx", "stm32wba50xx", "stm32wba52xx", "stm32wba54xx", "stm32wba5mxx"]),
    (0x454, "u3", ["stm32u385xx", "stm32u375xx"]),
    (0x485, "h7rs", ["stm32h7s7xx", "stm32h7r3xx", "stm32h7s3xx", "stm32h7r7xx"]),
]

# ---------------------------------------------------------------------------
# What to extract.

# The facts stflash's tests use (the names the families' `register_facts`
# state, `crates/stflash/src/family/*/`, and the simulator's,
# `crates/sim/src/`): the fixture keeps only these. A name the code states
# that no pattern keeps makes the cross-check fail with "not in the fixture".
KEEP = [re.compile(p + "$") for p in (
    # Register blocks, memories and the other addresses the chip table uses.
    r"FLASH_(?:R_BASE|R_BASE_NS|REG_BASE|BASE|BASE_NS|BANK1_BASE|BANK1_END|BANK2_BASE)",
    r"(?:FLASHSIZE|UID|PACKAGE|DBGMCU|DBG|OB|OTP_AREA)_BASE",
    r"(?:CRC|RCC|PWR)_BASE(?:_NS)?",
    r"FLASH_OTP_(?:BASE|END|SIZE)",
    r"(?:DATA_EEPROM|DATA_EEPROM_BANK\d|FLASH_EEPROM)_(?:BASE|END)",
    r"(?:CCM|D\d_|CD_)?\w*SRAM\w*_(?:BASE|SIZE|SIZE_MAX)",
    r"CCMDATARAM_END|(?:CCMDATARAM|D1_DTCMRAM|D1_ITCMRAM|D1_AXISRAM|D2_AHBSRAM\d|D3_SRAM|CD_AXISRAM\d|CD_AHBSRAM\d|"
    r"CD_DTCMRAM|CD_ITCMRAM|SRD_SRAM)_BASE",
    # Struct members: register offsets and block sizes.
    r"(?:FLASH|OB)_TypeDef\.\w+",
    r"CRC_TypeDef\.(?:DR|CR|INIT|POL)",
    r"(?:DBGMCU|DBG)_TypeDef\.(?:IDCODE|CR|APB1FZ|APB1FZR|APB1FZR1|APB1LFZR|APBFZ1|APB3FZ1|APB4FZ1|APB4FZR)",
    r"RCC_TypeDef\.(?:CR|AHBENR|AHB1ENR|AHB1ENR1|AHB4ENR|APB2ENR|APBENR1|APB1ENR1|DBGCFGR)",
    r"PWR_TypeDef\.(?:CR1|SR2)",
    # Keys.
    r"FLASH_(?:KEY|OPTKEY|OPT_KEY|PEKEY|PRGKEY|NSKEY)\d",
    # Bit fields of the flash registers (extract_* leaves out ACR, PCROP,
    # security and CPU2 registers), the CRC unit, DBGMCU, RCC and PWR.
    r"FLASH_[A-Z0-9]+(?:_[A-Z0-9]+)*_\w+",
    r"CRC_CR_(?:RESET|POLYSIZE|REV_IN|REV_OUT)",
    r"DBG(?:MCU)?_IDCODE_DEV_ID|DBG(?:MCU)?_\w*(?:WWDG|IWDG)\w*",
    r"RCC_\w+_(?:CRCEN|DBGMCUEN|DBGEN|PWREN|HSION|HSIRDY)",
    r"PWR_(?:CR1_VOS|SR2_VOSF)",
    # Geometry and encodings ST's HAL defines.
    r"FLASH_(?:PAGE_SIZE\w*|SECTOR_SIZE|NB_32BITWORD_IN_FLASHWORD|SALES_TYPE\w*)",
    r"OB_RDP_LEVEL_\d|OB_PROD_STATE_\w+",
    # How ST reads the flash-size register.
    r"FLASH_SIZE\.(?:mask|if_0xFFFF)|FLASH_SIZE_RAW\.mask|LL_GetFlashSize\.mask",
)]
# Never kept: derived listings, C expressions, the headers' own comments.
DROP = re.compile(
    r".*\.(?:fields|expr|comment_offset)$|HAL\.reads\..*|.*_BB_BASE$|"
    r"FLASH_(?:BANK_\w+|SIZE_DATA_REGISTER|PSIZE_\w+|SECTOR_\d+|SECTOR_TOTAL|PDKEY\w*)$|"
    r"FLASH_ECCR_(?!ECCD$)\w+|DBGMCU_IDCODE_REV_ID$")

# Addresses and sizes: macros ending in one of SUFFIXES whose name starts with
# one of PREFIXES, evaluated to a number.
ADDR_PREFIXES = (
    "FLASH", "OB", "UID", "FLASHSIZE", "PACKAGE", "DBGMCU", "DBG", "RCC", "CRC", "PWR",
    "SRAM", "CCM", "DATA_EEPROM", "FLASH_EEPROM", "EEPROM", "BKPSRAM", "OTP",
    "D1_", "D2_", "D3_", "CD_", "SRD_", "ITCM", "DTCM", "AXISRAM", "SYSTEM",
    "SYSMEM", "ENGI", "VREFINT", "TEMPSENSOR", "PERIPH_BASE", "AHB", "APB",
)
ADDR_RE = re.compile(
    r"^(?:%s)\w*?(?:_BASE|_BASE_NS|_BASE_S|_END|_SIZE|_SIZE_MAX|_SIZE_DEFAULT)$"
    % "|".join(re.escape(p) for p in ADDR_PREFIXES))
# Bus bases are kept only where they feed a peripheral base we report.
BUS_RE = re.compile(r"^(?:AHB\w*|APB\w*|D\d_AHB\w*|D\d_APB\w*|CD_AHB\w*|CD_APB\w*|SRD_AHB\w*|SRD_APB\w*)PERIPH_BASE(?:_NS|_S)?$")

# Keys (CMSIS or HAL).
KEY_RE = re.compile(r"^FLASH_(?:KEY\d|OPTKEY\d|OPT_KEY\d|PEKEY\d|PDKEY\d\w*|PRGKEY\d|OPTKEY_\d|PDKEY_\d|NSKEY\d|SECKEY\d)$")

# HAL/CMSIS geometry and bank macros.
GEOM_RE = re.compile(
    r"^(?:FLASH_(?:PAGE_SIZE\w*|SECTOR_SIZE\w*|BANK_SIZE|BANK_NB|PAGE_NB|SECTOR_NB|SECTOR_TOTAL|"
    r"NB_\w+|SIZE_DATA_REGISTER|SIZE|SIZE_RAW|SIZE_DEFAULT|CUT\d|BANK\d_BASE|BANK\d_END|BANK_\d|BANK_BOTH|"
    r"SALES_\w+|OTP_(?:BASE|END|SIZE|BLOCK_ALL)|DBANK_SUPPORT|DUAL_?BANK\w*|PSIZE_\w+|"
    r"FLASHWORD_SIZE|QUADWORD_SIZE|DOUBLEWORD_SIZE)|"
    r"OB_DUAL_BANK_\w+|OB_(?:USER_)?(?:DUAL_?BANK|DBANK|DB1M|DB256K|SWAP_BANK|nDBANK)\w*|"
    r"OB_BOR_LEVEL\w*|OB_WRP_SECTOR_(?:All|ALL|1[2-9]|2\d)|OB_RDP_LEVEL_\d|OB_USER_BOR\w*|"
    r"OB_PROD_STATE_\w+|OPTCR_BYTE\d_ADDRESS)$")

# Bit fields: peripheral prefixes and filters.
FLASH_REG_SKIP = re.compile(
    r"^(?:ACR\d?|ECC_FA\w*|ECC2R|ECCCORR|ECCDETR|ECCDR|PCROP\w*|SEC\w*|HDP\w*|PRIV\w*|OEM\w*|OBK\w*|C2\w*|IPCCBR|PDKEYR|LPCR|"
    r"OPSR|EDATA\w*|SRRVR|KEYR|NSKEYR|OPTKEYR|PRIVBB\w*|SECBB\w*|ECC_FA\w*|FA\w*)$")
DBGMCU_FIELD_RE = re.compile(r"^DBG(?:MCU)?_(?:IDCODE_\w+|\w*(?:WWDG|IWDG|WDGLSD|WDGLS)\w*)$")
RCC_FIELD_RE = re.compile(r"^RCC_\w+_(?:CRCEN|DBGMCUEN|DBGEN|DBGMCUEN|PWREN|HSION|HSIRDY)$")
PWR_FIELD_RE = re.compile(r"^PWR_(?:CR1_VOS|SR2_VOSF|VOSR_VOS|SR2_VOS\w*)$")

# Struct members to report: type -> member filter (None: all).
TYPEDEFS = {
    "FLASH_TypeDef": None,
    "CRC_TypeDef": None,
    "DBGMCU_TypeDef": None,
    "DBG_TypeDef": None,
    "OB_TypeDef": None,
    "RCC_TypeDef": re.compile(r"^(?:CR|\w*ENR\d?|\w*ENR[LH]|RSR|CSR|DBGCFGR)$"),
    "RCC_Core_TypeDef": re.compile(r"^(?:\w*ENR\d?|\w*ENR[LH]|RSR)$"),
    "PWR_TypeDef": re.compile(r"^(?:CR1|SR2|VOSR|SVMSR)$"),
}
LPENR_RE = re.compile(r"(?:LPENR|SMENR|AMENR)")

# HAL source patterns for bank rules: a read of an option bit in a .c file.
HAL_RULE_RE = re.compile(
    r"READ_BIT\s*\(\s*FLASH->(\w+)\s*,\s*(FLASH_\w*(?:DBANK|DB1M|DUALBANK|DUAL_BANK|DB256K|SWAP_BANK\w*|BFB2)\w*)\s*\)")

TYPE_SIZES = {"uint8_t": 1, "uint16_t": 2, "uint32_t": 4, "uint64_t": 8,
              "int8_t": 1, "int16_t": 2, "int32_t": 4, "int64_t": 8, "char": 1}
QUALIFIERS = {"__IO", "__I", "__O", "__IM", "__OM", "__IOM", "volatile", "const", "static"}

# ---------------------------------------------------------------------------
# Repositories and files.


class Repo:
    def __init__(self, path, kind, family, owner, name):
        self.path = path
        self.kind = kind          # 'cmsis', 'modm', 'hal'
        self.family = family      # 'h7', ... (None for modm)
        self.owner = owner
        self.name = name
        self.bare = not os.path.isdir(os.path.join(path, ".git")) and os.path.isfile(os.path.join(path, "HEAD"))
        self.is_git = self.bare or os.path.isdir(os.path.join(path, ".git"))
        self.commit = self._git("rev-parse", "HEAD").strip() if self.is_git else "unknown"
        self._cache = {}

    def _git(self, *args):
        cmd = ["git", "--git-dir", self.path] if self.bare else ["git", "-C", self.path]
        try:
            return subprocess.run(cmd + list(args), check=True, capture_output=True).stdout.decode("utf-8", "replace")
        except (subprocess.CalledProcessError, FileNotFoundError):
            return ""

    @property
    def label(self):
        return "%s/%s" % (self.owner, self.name)

    def read(self, rel):
        if rel in self._cache:
            return self._cache[rel]
        text = None
        if self.bare:
            out = self._git("show", "HEAD:" + rel)
            text = out if out else None
        else:
            p = os.path.join(self.path, rel)
            if os.path.isfile(p):
                with open(p, "rb") as f:
                    text = f.read().decode("utf-8", "replace")
        if text is not None:
            text = text.replace("\r\n", "\n").replace("\r", "\n")
        self._cache[rel] = text
        return text


def _owner_name(path):
    """owner/name of a repository directory: from a mirror's 'owner+name'
    component, else from the git remote, else the directory name."""
    parts = os.path.normpath(path).split(os.sep)
    for comp in reversed(parts):
        if "+" in comp:
            o, n = comp.split("+", 1)
            return o, n
    try:
        url = subprocess.run(["git", "-C", path, "config", "--get", "remote.origin.url"],
                             capture_output=True).stdout.decode().strip()
        for comp in reversed(re.split(r"[/:]", url)):
            if "+" in comp:
                o, n = comp.split("+", 1)
                return o, n
        m = re.search(r"[:/]([^/:]+)/([^/]+?)(?:\.git)?$", url)
        if m:
            return m.group(1), m.group(2)
    except FileNotFoundError:
        pass
    base = parts[-1] if parts[-1] not in ("repo", ".git") else parts[-2]
    return "unknown", base


def discover(root):
    repos = []
    root = os.path.abspath(root)
    for dirpath, dirnames, filenames in os.walk(root):
        depth = dirpath[len(root):].count(os.sep)
        dirnames.sort()
        if depth > 4:
            dirnames[:] = []
            continue
        is_git = os.path.isfile(os.path.join(dirpath, "HEAD")) and os.path.isdir(os.path.join(dirpath, "objects"))
        is_tree = os.path.isdir(os.path.join(dirpath, ".git")) or os.path.isdir(os.path.join(dirpath, "Include")) \
            or os.path.isdir(os.path.join(dirpath, "Inc"))
        if not (is_git or is_tree):
            continue
        owner, name = _owner_name(dirpath)
        key = name.lower()
        m = re.search(r"cmsis[-_]device[-_]([a-z0-9]+)$", key)
        if m:
            repos.append(Repo(dirpath, "cmsis", m.group(1), owner, name))
        elif key == "cmsis-header-stm32":
            repos.append(Repo(dirpath, "modm", None, owner, name))
        else:
            m = re.search(r"^stm32([a-z0-9]+)xx[-_]hal[-_]driver$", key)
            if m:
                repos.append(Repo(dirpath, "hal", m.group(1), owner, name))
        dirnames[:] = [d for d in dirnames if d not in ("objects", "refs", "hooks", "info", "logs", ".git")]
    return repos


class Sources:
    """Finds the device header of a family, the HAL files, and records what was read."""

    def __init__(self, repos):
        self.repos = repos
        self.used = {}  # (label, commit, path) -> None

    def _cmsis(self, fam):
        cands = [r for r in self.repos if r.kind == "cmsis" and r.family == fam]
        cands.sort(key=lambda r: (r.owner != "STMicroelectronics", "_" in r.name, r.label))
        out = [(r, "Include/") for r in cands]
        out += [(r, "stm32%sxx/Include/" % fam) for r in self.repos if r.kind == "modm"]
        return out

    def device_file(self, fam, name):
        for repo, prefix in self._cmsis(fam):
            text = repo.read(prefix + name)
            if text is not None:
                self.used[(repo.label, repo.commit, prefix + name)] = None
                return repo, prefix + name, text
        return None, None, None

    def hal_file(self, fam, rel):
        cands = [r for r in self.repos if r.kind == "hal" and r.family == fam]
        cands.sort(key=lambda r: (r.owner != "STMicroelectronics", "_" in r.name, r.label))
        for repo in cands:
            text = repo.read(rel)
            if text is not None:
                self.used[(repo.label, repo.commit, rel)] = None
                return repo, rel, text
        return None, None, None


# ---------------------------------------------------------------------------
# C preprocessing, just enough for ST's headers.


_STRIP_CACHE = {}


def strip_comments(text):
    key = hash(text)
    hit = _STRIP_CACHE.get(key)
    if hit is not None and hit[0] == text:
        return hit[1]
    res = _strip_comments(text)
    _STRIP_CACHE[key] = (text, res)
    return res


def _strip_comments(text):
    """Blank out comments (keeping newlines, so line numbers stay) and return
    (code, comments_by_line)."""
    out = []
    comments = {}
    i, n, line = 0, len(text), 1
    while i < n:
        c = text[i]
        if c == "/" and i + 1 < n and text[i + 1] == "*":
            j = text.find("*/", i + 2)
            j = n if j < 0 else j + 2
            chunk = text[i:j]
            comments.setdefault(line, []).append(chunk)
            for ch in chunk:
                out.append("\n" if ch == "\n" else " ")
            line += chunk.count("\n")
            i = j
        elif c == "/" and i + 1 < n and text[i + 1] == "/":
            j = text.find("\n", i)
            j = n if j < 0 else j
            comments.setdefault(line, []).append(text[i:j])
            out.append(" " * (j - i))
            i = j
        elif c == '"':
            j = i + 1
            while j < n and text[j] != '"' and text[j] != "\n":
                j += 2 if text[j] == "\\" else 1
            out.append(text[i:j + 1])
            i = j + 1
        else:
            if c == "\n":
                line += 1
            out.append(c)
            i += 1
    return "".join(out), comments


def logical_lines(code):
    """(first physical line, logical line) with backslash continuations joined."""
    phys = code.split("\n")
    out = []
    i = 0
    while i < len(phys):
        start = i
        s = phys[i]
        while s.rstrip().endswith("\\") and i + 1 < len(phys):
            s = s.rstrip()[:-1] + " " + phys[i + 1]
            i += 1
        out.append((start + 1, i + 1, s))
        i += 1
    return out


class Macro:
    __slots__ = ("name", "params", "body", "file", "line")

    def __init__(self, name, params, body, file, line):
        self.name, self.params, self.body, self.file, self.line = name, params, body, file, line


TOKEN_RE = re.compile(r"\s*(0[xX][0-9A-Fa-f]+|\d+)([uUlL]*)|\s*([A-Za-z_]\w*)|\s*(<<|>>|<=|>=|==|!=|&&|\|\||[-+*/%&|^~!()<>?:,])")
CAST_WORDS = {"uint8_t", "uint16_t", "uint32_t", "uint64_t", "int8_t", "int16_t", "int32_t", "int64_t",
              "unsigned", "signed", "long", "int", "short", "char"}


class Evaluator:
    def __init__(self, macros):
        self.macros = macros

    def tokens(self, expr):
        toks = []
        pos = 0
        expr = expr.strip()
        while pos < len(expr):
            m = TOKEN_RE.match(expr, pos)
            if not m or m.end() == pos:
                if expr[pos:].strip() == "":
                    break
                return None
            pos = m.end()
            if m.group(1):
                toks.append(("num", int(m.group(1), 0)))
            elif m.group(3):
                toks.append(("id", m.group(3)))
            else:
                toks.append(("op", m.group(4)))
        return toks

    def value(self, name, cond=False, depth=0):
        mac = self.macros.get(name)
        if mac is None or mac.params is not None:
            return 0 if cond else None
        if depth > 40:
            return None
        if mac.body.strip() == "":
            return 1 if cond else None
        return self.eval(mac.body, cond, depth + 1)

    def eval(self, expr, cond=False, depth=0):
        if cond:
            expr = re.sub(r"\bdefined\s*\(\s*(\w+)\s*\)", lambda m: " 1 " if m.group(1) in self.macros else " 0 ", expr)
            expr = re.sub(r"\bdefined\s+(\w+)", lambda m: " 1 " if m.group(1) in self.macros else " 0 ", expr)
        toks = self.tokens(expr)
        if toks is None:
            return None
        # Drop integer casts "(uint32_t)"; a pointer cast or dereference is not a constant.
        out = []
        i = 0
        while i < len(toks):
            t = toks[i]
            if t == ("op", "("):
                j = i + 1
                words = []
                while j < len(toks) and toks[j][0] == "id" and (toks[j][1] in CAST_WORDS or toks[j][1] in QUALIFIERS):
                    words.append(toks[j][1])
                    j += 1
                if words and j < len(toks) and toks[j] == ("op", ")"):
                    i = j + 1
                    continue
                if words or (j < len(toks) and toks[j][0] == "id" and toks[j][1].endswith("_TypeDef")):
                    return None
            out.append(t)
            i += 1
        py = []
        for kind, v in out:
            if kind == "num":
                py.append(str(v))
            elif kind == "id":
                if v in ("sizeof",):
                    return None
                val = self.value(v, cond, depth)
                if val is None:
                    return None
                py.append("(%d)" % val)
            else:
                if v in ("?", ":", ","):
                    return None
                py.append({"&&": " and ", "||": " or ", "!": " not ", "/": "//"}.get(v, v))
        src = " ".join(py)
        if not src.strip():
            return None
        try:
            r = eval(src, {"__builtins__": {}}, {})  # noqa: S307 -- numbers and operators only
        except Exception:
            return None
        if isinstance(r, bool):
            r = int(r)
        if not isinstance(r, int):
            return None
        if r < 0:
            r &= 0xFFFFFFFF
        return r


def preprocess(text, fname, macros):
    """Run the conditional directives of `text` with `macros` (a dict, updated
    with the file's #defines). Returns (active-line set, comments by line,
    logical lines)."""
    code, comments = strip_comments(text)
    ev = Evaluator(macros)
    active_lines = set()
    stack = []  # (parent_active, this_active, taken)
    active = True
    lines = logical_lines(code)
    for first, last, s in lines:
        st = s.strip()
        m = re.match(r"#\s*(\w+)\s*(.*)$", st)
        if m:
            d, rest = m.group(1), m.group(2).strip()
            if d in ("if", "ifdef", "ifndef"):
                if d == "ifdef":
                    c = rest.split()[0] in macros if rest else False
                elif d == "ifndef":
                    c = rest.split()[0] not in macros if rest else True
                else:
                    c = bool(ev.eval(rest, cond=True)) if active else False
                stack.append((active, active and c, active and c))
                active = active and c
                continue
            if d == "elif":
                parent, _, taken = stack[-1]
                c = (not taken) and parent and bool(ev.eval(rest, cond=True))
                stack[-1] = (parent, c, taken or c)
                active = c
                continue
            if d == "else":
                parent, _, taken = stack[-1]
                c = parent and not taken
                stack[-1] = (parent, c, True)
                active = c
                continue
            if d == "endif":
                if stack:
                    active = stack.pop()[0]
                continue
            if not active:
                continue
            if d == "define":
                dm = re.match(r"(\w+)(\(([^)]*)\))?\s*(.*)$", rest)
                if dm:
                    params = None
                    if dm.group(2) is not None and rest[len(dm.group(1))] == "(":
                        params = [p.strip() for p in dm.group(3).split(",")]
                    macros[dm.group(1)] = Macro(dm.group(1), params, dm.group(4).strip(), fname, first)
            elif d == "undef":
                macros.pop(rest.split()[0], None)
            continue
        if active:
            for ln in range(first, last + 1):
                active_lines.add(ln)
    return active_lines, comments, lines


# ---------------------------------------------------------------------------
# Struct layouts.


def parse_typedefs(text, active_lines, wanted):
    """Offsets of the members of the wanted typedef structs (active ones).
    Returns {type: {"members": [(name, offset, size, line, comment_offset)],
    "sizeof": n, "line": l}}."""
    raw = text.split("\n")
    code, comments = strip_comments(text)
    clines = code.split("\n")
    out = {}
    i = 0
    while i < len(clines):
        if re.match(r"\s*typedef\s+struct\b", clines[i]) and (i + 1) in active_lines:
            start = i
            depth = 0
            body = []
            j = i
            seen_open = False
            while j < len(clines):
                seg = clines[j]
                for ch in seg:
                    if ch == "{":
                        depth += 1
                        seen_open = True
                    elif ch == "}":
                        depth -= 1
                body.append((j + 1, seg))
                if seen_open and depth == 0:
                    break
                j += 1
            tail = "".join(s for _, s in body)
            m = re.search(r"}\s*(\w+)\s*;", tail)
            name = m.group(1) if m else None
            if name in wanted and name not in out:
                body = [(ln, seg) for ln, seg in body
                        if ln in active_lines and not seg.lstrip().startswith("#")]
                out[name] = layout(body, raw, comments)
                out[name]["line"] = start + 1
            i = j + 1
            continue
        i += 1
    return out


MEMBER_RE = re.compile(r"^\s*((?:\w+\s+)*?)(u?int(?:8|16|32|64)_t|char)\s+(.+?)\s*;\s*$")


def layout(body, raw, comments):
    ev = Evaluator({})
    off = 0
    maxalign = 1
    members = []
    ok = True
    nested = 0
    opened = False
    for ln, seg in body:
        s = seg
        if "{" in s:
            nested += s.count("{")
            s = s.split("{", 1)[1]
            opened = True
        elif not opened:
            continue
        if "}" in s:
            s = s.split("}", 1)[0]
        for decl in [d for d in s.split(";") if d.strip()]:
            m = MEMBER_RE.match(decl + ";")
            if not m:
                if re.search(r"\w", decl):
                    ok = False
                continue
            quals = m.group(1).split()
            if any(q not in QUALIFIERS for q in quals):
                ok = False
                continue
            size = TYPE_SIZES[m.group(2)]
            for d in m.group(3).split(","):
                dm = re.match(r"\s*(\w+)\s*(?:\[\s*([^\]]+)\s*\])?\s*$", d)
                if not dm:
                    ok = False
                    continue
                count = 1
                if dm.group(2):
                    count = ev.eval(dm.group(2))
                    if count is None:
                        ok = False
                        count = 1
                if off % size:
                    off += size - off % size
                maxalign = max(maxalign, size)
                com = " ".join(comments.get(ln, []))
                cm = re.search(r"[Oo]ffset\s*:?\s*(0x[0-9A-Fa-f]+)", com)
                members.append((dm.group(1), off, size * count, ln, int(cm.group(1), 16) if cm else None))
                off += size * count
    if nested > 1:
        ok = False
    if off % maxalign:
        off += maxalign - off % maxalign
    return {"members": members, "sizeof": off, "ok": ok}


# ---------------------------------------------------------------------------
# Extraction per header.


def hexv(v):
    return "0x%X" % v


def field_of(mask, pos):
    """pos:width of a contiguous mask, or None."""
    if mask is None or mask <= 0:
        return None
    low = (mask & -mask).bit_length() - 1
    width = bin(mask).count("1")
    if mask != ((1 << width) - 1) << low:
        return None
    if pos is not None and pos != low:
        return None
    return low, width


class Header:
    """One device header with its HAL context."""

    def __init__(self, stem, fam, src, device_macro):
        self.stem = stem
        self.fam = fam
        self.src = src
        self.device_macro = device_macro
        self.facts = []   # (name, value, file, line)
        self.notes = []
        self.ok = False

    def values(self):
        """The facts as a name -> value map (lines and files left out)."""
        return {(n, v) for n, v, _, _ in self.facts}

    def add(self, name, value, file, line):
        self.facts.append((name, value, os.path.basename(file), line))

    def run(self):
        repo, path, text = self.src.device_file(self.fam, self.stem + ".h")
        if text is None:
            self.notes.append("header %s.h not found" % self.stem)
            return
        self.ok = True
        self.repo, self.path = repo, path
        macros = {}
        if self.device_macro:
            macros[self.device_macro] = Macro(self.device_macro, None, "", "(command line)", 0)
        active, comments, lines = preprocess(text, path, macros)
        dev_macros = dict(macros)
        self.dev_macros = dev_macros
        ev = Evaluator(macros)
        fname = os.path.basename(path)

        # -- addresses and sizes
        needed_bus = set()
        for name in sorted(dev_macros):
            mac = dev_macros[name]
            if mac.file != path or mac.params is not None:
                continue
            if (ADDR_RE.match(name) and not BUS_RE.match(name)
                    and (name + "_Pos") not in dev_macros and (name + "_Msk") not in dev_macros):
                v = ev.value(name)
                if v is not None:
                    self.add(name, hexv(v), fname, mac.line)
                elif GEOM_RE.match(name):
                    self._value_or_expr(name, mac, ev, fname)
                    for ident in re.findall(r"[A-Za-z_]\w*", mac.body):
                        if BUS_RE.match(ident):
                            needed_bus.add(ident)
        for name in sorted(needed_bus):
            mac = dev_macros.get(name)
            v = ev.value(name) if mac else None
            if v is not None:
                self.add(name, hexv(v), fname, mac.line)

        # -- keys, geometry (CMSIS)
        cmsis_names = set()
        for name in sorted(dev_macros):
            mac = dev_macros[name]
            if mac.file != path or mac.params is not None:
                continue
            if KEY_RE.match(name) or (GEOM_RE.match(name) and not ADDR_RE.match(name)):
                self._value_or_expr(name, mac, ev, fname)
                cmsis_names.add(name)

        # -- FLASH_SIZE masks (the register's valid bits as ST reads them)
        self._flash_size_mask(dev_macros, fname, path)

        # -- struct layouts
        tds = parse_typedefs(text, active, set(TYPEDEFS))
        regnames = set()
        for tname in sorted(tds):
            td = tds[tname]
            filt = TYPEDEFS[tname]
            if not td["ok"]:
                self.notes.append("%s: layout not understood, offsets omitted" % tname)
                continue
            for mname, off, size, ln, coff in td["members"]:
                if tname == "FLASH_TypeDef":
                    regnames.add(mname)
                if mname.upper().startswith("RESERVED"):
                    continue
                if filt is not None and (not filt.match(mname) or LPENR_RE.search(mname)):
                    continue
                self.add("%s.%s" % (tname, mname), hexv(off), fname, ln)
                if coff is not None and coff != off:
                    self.add("%s.%s.comment_offset" % (tname, mname), hexv(coff), fname, ln)
            self.add("%s.sizeof" % tname, hexv(td["sizeof"]), fname, td["line"])

        # -- bit fields
        self._bitfields(dev_macros, ev, fname, path, regnames)

        # -- HAL / LL
        self._hal(dev_macros, cmsis_names)

    def _value_or_expr(self, name, mac, ev, fname, prefix=""):
        v = ev.value(name)
        if not mac.body.strip():
            self.add(prefix + name, "defined", fname, mac.line)
        elif v is not None:
            self.add(prefix + name, hexv(v), fname, mac.line)
        elif mac.body.strip():
            body = re.sub(r"\s+", "", mac.body)
            self.add(prefix + name + ".expr", body, fname, mac.line)
            m = re.search(r"FLASHSIZE_BASE\)+&\(?(0x[0-9A-Fa-f]+)", body)
            if name.startswith("FLASH_SIZE") and m:
                self.add(prefix + name + ".mask", hexv(int(m.group(1), 16)), fname, mac.line)

    def _flash_size_mask(self, macros, fname, path):
        for name in ("FLASH_SIZE",):
            mac = macros.get(name)
            if mac is None or mac.file != path:
                continue
            body = re.sub(r"\s+", "", mac.body)
            if "FLASHSIZE_BASE" not in body and "FLASH_SIZE_DATA_REGISTER" not in body:
                continue
            masks = re.findall(r"\)&\(?(0x[0-9A-Fa-f]+)[uUlL]*\)?", body)
            if masks:
                self.add("FLASH_SIZE.mask", hexv(int(masks[-1], 16)), fname, mac.line)
            else:
                # a plain 16-bit read: all 16 bits
                if "uint16_t*" in body:
                    self.add("FLASH_SIZE.mask", "0xFFFF", fname, mac.line)
            d = re.search(r"==0x0*FFFF[uU]?\)+\?([^:]+):", body)
            if d:
                dv = Evaluator(macros).eval(d.group(1))
                if dv is not None:
                    self.add("FLASH_SIZE.if_0xFFFF", hexv(dv), fname, mac.line)
            self.add("FLASH_SIZE.expr", body, fname, mac.line)

    def _bitfields(self, macros, ev, fname, path, regnames):
        regs = set(regnames)
        for r in list(regnames):
            regs.add(re.sub(r"\d+$", "", r))
            regs.add(re.sub(r"_(?:CUR|PRG)\d*$", "", r))
            regs.add(re.sub(r"(?:_CUR|_PRG)?\d*R?$", "", r))
            regs.add(re.sub(r"\d*R$", "", r))
        regs.discard("")
        fields = {}
        for name in sorted(macros):
            if not name.endswith("_Pos"):
                continue
            base = name[:-4]
            mac = macros[name]
            if mac.file != path:
                continue
            per = base.split("_", 1)[0]
            if per == "FLASH":
                rest = base[len("FLASH_"):]
                reg = None
                for cand in sorted(regs, key=len, reverse=True):
                    if rest.startswith(cand + "_"):
                        reg = cand
                        break
                if reg is None:
                    reg = rest.split("_", 1)[0]
                if FLASH_REG_SKIP.match(reg):
                    continue
                # Sub-bits (FLASH_CR_SNB_0) of a field that has its own _Pos.
                sm = re.match(r"(.*)_(\d+)$", base)
                if sm and (sm.group(1) + "_Pos") in macros:
                    continue
            elif per == "CRC":
                reg = base.split("_")[1]
            elif per in ("DBGMCU", "DBG"):
                if not DBGMCU_FIELD_RE.match(base):
                    continue
                reg = base.split("_")[1]
            elif per == "RCC":
                if not RCC_FIELD_RE.match(base):
                    continue
                reg = base.split("_")[1]
            elif per == "PWR":
                if not PWR_FIELD_RE.match(base):
                    continue
                reg = base.split("_")[1]
            else:
                continue
            pos = ev.value(name)
            msk = ev.value(base + "_Msk") if (base + "_Msk") in macros else ev.value(base)
            if KEY_RE.match(base):
                continue
            f = field_of(msk, pos)
            if f is None:
                # ST's own non-contiguous masks (FLASH_OBR_USER 0x7700): keep them as masks.
                if pos is not None and msk is not None and (msk >> pos) & 1:
                    self.add(base + ".mask", hexv(msk), fname, mac.line)
                else:
                    self.notes.append("%s: _Pos %s and mask %s disagree"
                                      % (base, pos, None if msk is None else hexv(msk)))
                continue
            self.add(base, "%d:%d" % f, fname, mac.line)
            fields.setdefault((per, reg), []).append((f[0], base[len(per) + 1 + len(reg) + 1:], mac.line))
        for (per, reg) in sorted(fields):
            lst = sorted(fields[(per, reg)])
            self.add("%s_%s.fields" % (per, reg), ",".join(n for _, n, _ in lst), fname, min(l for _, _, l in lst))

    def _hal(self, dev_macros, cmsis_names):
        fam = self.fam
        macros = dict(dev_macros)
        # What a HAL build defines: the module switch the .c files test.
        for name in ("HAL_FLASH_MODULE_ENABLED", "USE_HAL_DRIVER"):
            macros[name] = Macro(name, None, "", "(command line)", 0)
        for base in ("stm32%sxx_hal_flash.h" % fam, "stm32%sxx_hal_flash_ex.h" % fam, "stm32%sxx_ll_utils.h" % fam):
            repo, rel, text = self.src.hal_file(fam, "Inc/" + base)
            if text is None:
                continue
            active, comments, lines = preprocess(text, rel, macros)
            ev = Evaluator(macros)
            for name in sorted(macros):
                mac = macros[name]
                if mac.file != rel or mac.params is not None:
                    continue
                if KEY_RE.match(name) or GEOM_RE.match(name):
                    if name in cmsis_names:
                        cv = Evaluator(dev_macros).value(name)
                        hv = ev.value(name)
                        if cv != hv:
                            self._value_or_expr(name, mac, ev, base, prefix="HAL.")
                        continue
                    self._value_or_expr(name, mac, ev, base)
            if base.endswith("_hal_flash.h") and not any(n == "FLASH_SIZE.mask" for n, _, _, _ in self.facts):
                # The HAL defines FLASH_SIZE where the device header does not (G4).
                self._flash_size_mask(macros, base, rel)
            if base.endswith("_ll_utils.h"):
                for first, last, s in lines:
                    if first not in active:
                        continue
                    if "FLASHSIZE_BASE_ADDRESS" in s and "return" in s:
                        mm = re.search(r"FLASHSIZE_BASE_ADDRESS\)\)\s*\)?\s*&\s*(0x[0-9A-Fa-f]+)", s)
                        if mm:
                            self.add("LL_GetFlashSize.mask", hexv(int(mm.group(1).rstrip("uUlL"), 16)), base, first)
                        elif "(uint16_t)" in s:
                            self.add("LL_GetFlashSize.mask", "0xFFFF", base, first)
        # Bank rules in the HAL sources.
        seen = set()
        for base in ("stm32%sxx_hal_flash.c" % fam, "stm32%sxx_hal_flash_ex.c" % fam):
            repo, rel, text = self.src.hal_file(fam, "Src/" + base)
            if text is None:
                continue
            m2 = dict(macros)
            active, comments, lines = preprocess(text, rel, m2)
            for first, last, s in lines:
                if first not in active:
                    continue
                for mm in HAL_RULE_RE.finditer(s):
                    key = (mm.group(1), mm.group(2))
                    if key in seen:
                        continue
                    seen.add(key)
                    self.add("HAL.reads.FLASH_%s" % mm.group(1), mm.group(2), base, first)


def device_macros(src):
    """stem -> the macro ST's umbrella header tests before including it."""
    out = {}
    fams = sorted({f for _, f, _ in DEVICES})
    for fam in fams:
        repo, path, text = src.device_file(fam, "stm32%sxx.h" % fam)
        if text is None:
            continue
        code, _ = strip_comments(text)
        last = []
        for first, lastl, s in logical_lines(code):
            st = s.strip()
            if re.match(r"#\s*(if|elif)\b", st):
                last = re.findall(r"defined\s*\(?\s*(STM32\w+)", st)
            m = re.match(r'#\s*include\s+"(stm32\w+)\.h"', st)
            if m and last:
                stem = m.group(1).lower()
                best = [x for x in last if x.lower() == stem] or last
                out.setdefault(stem, best[0])
    return out


def guess_macro(stem):
    s = stem[len("stm32"):]
    i = s.find("x")
    if i < 0:
        return "STM32" + s.upper()
    return "STM32" + s[:i].upper() + "x" + s[i + 1:].upper().replace("X", "x")


# ---------------------------------------------------------------------------


def keep(name):
    """A fact stflash's tests use (`crates/stflash/tests/it/crosscheck.rs`)."""
    return not DROP.match(name) and any(r.match(name) for r in KEEP)


def main(argv):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("root", help="directory holding the header repositories")
    ap.add_argument("-o", "--output", default=None, help="fixture to write (default: cmsis.facts next to this script)")
    ap.add_argument("--all", action="store_true", help="keep every fact, not only those the tests use")
    args = ap.parse_args(argv)
    here = os.path.dirname(os.path.abspath(__file__))
    out_path = args.output or os.path.join(here, "cmsis.facts")

    repos = discover(args.root)
    if not repos:
        print("no header repositories under %s" % args.root, file=sys.stderr)
        return 1
    src = Sources(repos)
    macros_of = device_macros(src)

    lines = [
        "# STM32 register facts from ST's CMSIS device headers (and ST's HAL where CMSIS is",
        "# silent), for the cross-check of crates/stflash/tests/it/crosscheck.rs.",
        "# Generated by facts/extract.py; do not edit. See facts/README.md.",
        "#",
        "#   source <repo> <commit> <path>          a file read",
        "#   device <dev_id> <stem> [<stem> ...]    the headers of one DEV_ID; the first represents it",
        "#   same <stem> <rep>                      <stem>'s facts are <rep>'s, value for value",
        "#   header <stem> <file>                   the facts that follow are <stem>'s",
        "#   header <stem> <file> like <rep>        ... those of <rep>, the DEV_ID's first header,",
        "#                                          but for the facts that follow and",
        "#   absent <NAME> [<NAME> ...]             these names, which <stem> does not define",
        "#   <NAME> <value> <line>|<file>:<line>    one fact, at a line of <file> or of another file",
        "#",
        "# Values: 0x.. numbers; pos:width bit fields (NAME_Pos/NAME_Msk). TYPE_TypeDef.MEMBER is",
        "# the byte offset of MEMBER in the struct (C layout of the declarations), TYPE_TypeDef.sizeof",
        "# its size; FLASH_SIZE.mask the bits of the flash-size register ST's FLASH_SIZE keeps;",
        "# X.mask a mask that is not one field. A name a header does not define is absent from it.",
        "",
    ]

    headers = []
    missing = []
    same = []
    devices = []
    for dev_id, fam, stems in DEVICES:
        present = []
        reps = []
        for stem in stems:
            macro = macros_of.get(stem) or guess_macro(stem)
            h = Header(stem, fam, src, macro)
            h.run()
            if not h.ok:
                missing.append((dev_id, stem))
                continue
            if not args.all:
                h.facts = [f for f in h.facts if keep(f[0])]
            present.append(stem)
            for r in reps:
                if h.values() == r.values():
                    same.append((stem, r.stem))
                    break
            else:
                reps.append(h)
                headers.append((dev_id, h, reps[0] if len(reps) > 1 else None))
        if present:
            devices.append("device 0x%03X %s" % (dev_id, " ".join(present)))
        else:
            devices.append("# device 0x%03X: no header found (%s)" % (dev_id, " ".join(stems)))

    for (label, commit, path) in sorted(src.used):
        lines.append("source %s %s %s" % (label, commit, path))
    lines.append("")
    lines += devices
    lines.append("")
    for stem, rep in same:
        lines.append("same %s %s" % (stem, rep))
    lines.append("")

    for dev_id, h, like in headers:
        fname = os.path.basename(h.path)
        base = {}
        if like is not None:
            # Only what differs from the DEV_ID's representative: its other
            # values, and the names it does not define.
            lines.append("header %s %s like %s" % (h.stem, fname, like.stem))
            base = {n: v for n, v, _, _ in like.facts}
            mine = {n for n, _, _, _ in h.facts}
            gone = sorted(n for n in base if n not in mine)
            for i in range(0, len(gone), 8):
                lines.append("absent " + " ".join(gone[i:i + 8]))
        else:
            lines.append("header %s %s" % (h.stem, fname))
        seen = set()
        for name, value, file, line in h.facts:
            if name in seen or base.get(name) == value:
                continue
            seen.add(name)
            where = str(line) if file == fname else "%s:%d" % (file, line)
            lines.append("%s %s %s" % (name, value, where))
        lines.append("")
    for dev_id, stem in missing:
        lines.append("# missing: 0x%03X %s.h" % (dev_id, stem))

    with open(out_path, "w", newline="\n") as f:
        f.write("\n".join(lines).rstrip("\n") + "\n")
    nfacts = sum(1 for _, h, _ in headers for _ in h.facts)
    print("%s: %d lines, %d facts, %d headers (%d same), %d missing"
          % (out_path, len(lines), nfacts, len(headers), len(same), len(missing)), file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
