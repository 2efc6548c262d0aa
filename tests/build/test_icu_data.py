"""The trimmed ICU data library of the Linux bundle: what it keeps, and that Qt still works on it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import icu_data
import pytest

PROBE = textwrap.dedent(
    """
    import json
    from pathlib import Path
    from PySide6.QtCore import QCollator, QLocale, QStringConverter, QStringDecoder, QTimeZone
    maps = Path("/proc/self/maps").read_text()
    icu = sorted({line.split()[-1] for line in maps.splitlines() if "libicudata" in line})
    words = ["Zebra", "apple", "file10", "Äpfel", "file9", "élan", "Eclair"]
    collator = QCollator(QLocale("en_US"))
    collator.setNumericMode(True)
    print(json.dumps({
        "icu": icu,
        "sorted": sorted(words, key=collator.sortKey),
        "upper_tr": QLocale("tr_TR").toUpper("istanbul"),
        "upper_de": QLocale("de_DE").toUpper("straße"),
        "codecs": len(QStringConverter.availableCodecs()),
        "shift_jis": QStringDecoder("Shift_JIS").isValid(),
        "zone": QTimeZone(b"Europe/Berlin").displayName(
            QTimeZone.TimeType.StandardTime, QTimeZone.NameType.LongName, QLocale("en_US")),
    }))
    """
)


def pyside_icu_library() -> Path | None:
    try:
        import PySide6
    except ImportError:
        return None
    found = sorted((Path(PySide6.__file__).parent / "Qt" / "lib").glob("libicudata.so.*"))
    return found[0] if found else None


@pytest.mark.parametrize(
    ("item", "kept"),
    [
        ("cnvalias.icu", True),
        ("ibm-943_P15A-2003.cnv", True),
        ("coll/ucadata.icu", True),
        ("coll/root.res", True),
        ("coll/sv.res", False),
        ("zone/en_GB.res", True),
        ("zone/de.res", False),
        ("lang/pool.res", True),
        ("unit/res_index.res", True),
        ("de.res", False),
        ("zh_Hant_TW.res", False),
        ("en.res", True),
        ("root.res", True),
        ("supplementalData.res", True),
        ("zoneinfo64.res", True),
        ("brkitr/cjdict.dict", False),
        ("translit/root.res", False),
        ("rbnf/en.res", False),
    ],
)
def test_item_selection(item, kept):
    assert icu_data.keep_item(item) is kept


def test_only_icu_data_libraries_are_trimmed():
    assert icu_data.is_icu_data_library("PySide6/Qt/lib/libicudata.so.73")
    assert not icu_data.is_icu_data_library("PySide6/Qt/lib/libicuuc.so.73")
    with pytest.raises(ValueError):
        icu_data.trim_library(Path("libicuuc.so.73"), Path("unused"))


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="the bundled ICU is Linux-only")
def test_trimmed_library_is_smaller_and_qt_still_collates_cases_and_converts(tmp_path):
    src = pyside_icu_library()
    if src is None:
        pytest.skip("PySide6 without a bundled ICU")
    if icu_data.tools_missing():
        pytest.skip(f"cannot trim here: missing {', '.join(icu_data.tools_missing())}")
    trimmed = icu_data.trim_library(src, tmp_path / "icu")
    assert trimmed is not None and trimmed.name == src.name
    assert trimmed.stat().st_size < 0.4 * src.stat().st_size
    listing = subprocess.run(
        ["icupkg", "-l", str(tmp_path / "icu" / "trimmed" / f"icudt{src.name.rsplit('.', 1)[1]}l.dat")],
        check=True, capture_output=True, text=True,
    ).stdout.split()  # fmt: skip
    assert set(icu_data.REQUIRED_ITEMS) <= set(listing)

    def probe(preload: Path | None) -> dict:
        env = {**os.environ, "QT_QPA_PLATFORM": "offscreen"}
        if preload is not None:
            # A library already loaded under the same soname is the one libicuuc binds to.
            env["LD_PRELOAD"] = str(preload)
        done = subprocess.run(
            [sys.executable, "-c", PROBE], env=env, capture_output=True, text=True, timeout=120
        )
        assert done.returncode == 0, done.stderr
        return json.loads(done.stdout)

    whole, cut = probe(None), probe(trimmed)
    assert cut.pop("icu") == [str(trimmed)]
    assert whole.pop("icu") == [str(src.resolve())]
    assert cut == whole
    assert cut["upper_tr"] == "İSTANBUL" and cut["shift_jis"] and cut["codecs"] > 100
