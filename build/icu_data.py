"""A smaller ICU data library for the Linux bundle (PySide6 ships all of ICU's data: 32 MB).

Qt Core calls ICU only for collation (QCollator), case mapping, time-zone names and legacy text
codecs (its own CLDR tables serve QLocale). What those need stays: every converter, the root
collation and the Unicode tables, the root and English locale data. What goes: the other
locales' display names, units, currencies, collation tailorings, the break-iterator
dictionaries (Qt has its own text boundaries), transliterators and spelled-out number rules.
A locale whose data is gone falls back to root, which is ICU's normal lookup; nothing fails.

ICU's own `icupkg` tool (Debian `icu-devtools`) removes the items from the package; a C compiler
wraps the result in a `libicudata.so.NN` exporting the same `icudtNN_dat` symbol. Without these
tools the build keeps the original library and says so. Standard library only.
"""

from __future__ import annotations

import logging
import re
import shutil
import subprocess
from pathlib import Path

log = logging.getLogger(__name__)

LIBRARY_PATTERN = re.compile(r"libicudata\.so\.(\d+)$")
DROPPED_TREES = ("brkitr/", "translit/", "rbnf/")
# Locale-keyed trees: only their root, index, key pool and English survive.
LOCALE_TREES = ("coll/", "curr/", "lang/", "region/", "unit/", "zone/")
# A locale file at the top level ("de.res", "zh_Hant_TW.res"); shared tables have longer names.
LOCALE_FILE = re.compile(r"^[a-z]{2,3}(_[A-Za-z0-9]+)*\.res$")
KEPT_LOCALE_FILES = re.compile(r"^(root|res_index|pool|en|en_[A-Za-z0-9_]+)\.res$")
# Items Qt's ICU calls cannot do without; the build refuses a trimmed package that lost one.
REQUIRED_ITEMS = (
    "cnvalias.icu",
    "coll/ucadata.icu",
    "coll/root.res",
    "root.res",
    "zoneinfo64.res",
    "metaZones.res",
    "zone/root.res",
    "nfkc.nrm",
)


def is_icu_data_library(name: str) -> bool:
    return LIBRARY_PATTERN.search(name) is not None


def keep_item(item: str) -> bool:
    """Whether an ICU package item (as `icupkg -l` lists it, without the icudtNNl/ prefix) stays."""
    if item.startswith(DROPPED_TREES):
        return False
    folder, _, name = item.rpartition("/")
    if folder and f"{folder}/" in LOCALE_TREES:
        return not name.endswith(".res") or KEPT_LOCALE_FILES.match(name) is not None
    if not folder and LOCALE_FILE.match(name):
        return KEPT_LOCALE_FILES.match(name) is not None
    return True


def tools_missing() -> list[str]:
    wanted = {"icupkg": "icu-devtools", "cc": "a C compiler", "objcopy": "binutils"}
    return [f"{tool} ({package})" for tool, package in wanted.items() if shutil.which(tool) is None]


def trim_library(src: Path, work: Path) -> Path | None:
    """A trimmed copy of libicudata.so.NN under `work`, or None (with a warning) when it cannot be made."""
    match = LIBRARY_PATTERN.search(src.name)
    if match is None:
        raise ValueError(f"{src}: not an ICU data library")
    missing = tools_missing()
    if missing:
        log.warning("ICU data kept whole (%s): missing %s", src.name, ", ".join(missing))
        return None
    major = match.group(1)
    stem = f"icudt{major}l"
    work.mkdir(parents=True, exist_ok=True)
    out = work / src.name
    if out.is_file() and out.stat().st_mtime >= src.stat().st_mtime:
        return out
    full = work / f"{stem}.dat"
    # The package is the library's only contents: its read-only data section.
    subprocess.run(["objcopy", "-O", "binary", "--only-section=.rodata", str(src), str(full)], check=True)
    if full.read_bytes()[2:4] != b"\xda\x27":
        log.warning("ICU data kept whole: %s does not hold an ICU package where expected", src.name)
        return None
    listing = subprocess.run(["icupkg", "-l", str(full)], check=True, capture_output=True, text=True)
    items = [line.strip() for line in listing.stdout.splitlines() if line.strip()]
    dropped = [item for item in items if not keep_item(item)]
    remove_list = work / "remove.txt"
    remove_list.write_text("\n".join(dropped) + "\n", encoding="utf-8")
    trimmed = work / "trimmed" / f"{stem}.dat"
    trimmed.parent.mkdir(exist_ok=True)
    subprocess.run(
        ["icupkg", "-r", str(remove_list), str(full), str(trimmed)], check=True, capture_output=True
    )
    kept = subprocess.run(["icupkg", "-l", str(trimmed)], check=True, capture_output=True, text=True)
    lost = sorted(set(REQUIRED_ITEMS) - set(kept.stdout.split()))
    if lost:
        log.warning("ICU data kept whole: trimming would lose %s", ", ".join(lost))
        return None
    assembly = work / "icudata.S"
    assembly.write_text(
        "\t.section .rodata\n"
        f"\t.globl {stem[:-1]}_dat\n"
        f"\t.type {stem[:-1]}_dat, @object\n"
        "\t.balign 16\n"
        f"{stem[:-1]}_dat:\n"
        f'\t.incbin "{trimmed}"\n'
        f"\t.size {stem[:-1]}_dat, . - {stem[:-1]}_dat\n"
        '\t.section .note.GNU-stack,"",@progbits\n',
        encoding="utf-8",
    )
    subprocess.run(
        ["cc", "-shared", "-nostdlib", f"-Wl,-soname,{src.name}", "-o", str(out), str(assembly)], check=True
    )
    log.info(
        "ICU data %s: %.1f MB -> %.1f MB (%d of %d items kept)",
        src.name, src.stat().st_size / 1e6, out.stat().st_size / 1e6, len(items) - len(dropped), len(items),
    )  # fmt: skip
    return out
