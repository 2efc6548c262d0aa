"""A folder of decompression bombs (8192² 16-bit grey PNGs, 130 KB each) classified within bounded memory.

`classify` runs in a child process with many worker threads; its peak RSS (VmHWM, which a
new program starts afresh, unlike wait4's ru_maxrss that keeps the forking parent's) is
compared with the same command on one small texture. What the bombs add must stay within the
shared decode budget, whatever the thread count: before the budget each decode took ~1.8 GB
and N threads N times that.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from PIL import Image

from ai.textures.memory import DEFAULT_DECODE_BUDGET
from ai.textures.synth import write_png_bomb

ROOT = Path(__file__).resolve().parents[2]
BOMBS = 8

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not sys.platform.startswith("linux"), reason="ru_maxrss from wait4 is Linux's"),
]


_RUN = """
import sys
from app.cli import main
code = main(sys.argv[1:])
with open("/proc/self/status") as fh:
    print("VmHWM", next(line.split()[1] for line in fh if line.startswith("VmHWM:")), flush=True)
sys.exit(code)
"""


def _peak_rss(args: list[str], home: Path) -> tuple[int, str]:
    """Peak resident set size in bytes of `texture-sorter ARGS` in a child process, and its output."""
    env = dict(os.environ, PYTHONPATH=str(ROOT), TEXTURE_SORTER_HOME=str(home))
    done = subprocess.run(
        [sys.executable, "-c", _RUN, *args], capture_output=True, text=True, env=env, cwd=ROOT, timeout=600
    )
    assert done.returncode == 0, done.stdout + done.stderr
    kib = next(line.split()[1] for line in done.stdout.splitlines() if line.startswith("VmHWM"))
    return int(kib) * 1024, done.stdout + done.stderr


def test_a_folder_of_bombs_stays_within_the_decode_budget(tmp_path, tiny_model, capsys):
    bombs = tmp_path / "bombs"
    bombs.mkdir()
    write_png_bomb(bombs / "bomb-0.png")
    for i in range(1, BOMBS):
        os.link(bombs / "bomb-0.png", bombs / f"bomb-{i}.png")
    calm = tmp_path / "calm"
    calm.mkdir()
    Image.new("RGBA", (64, 64), (90, 120, 30, 255)).save(calm / "one.png")
    common = ["--model", str(tiny_model), "--threads", str(BOMBS)]
    base, _ = _peak_rss(["classify", str(calm), *common], tmp_path / "home-calm")
    peak, out = _peak_rss(["classify", str(bombs), *common], tmp_path / "home-bombs")
    assert f"{BOMBS} files, 0 errors" in out  # decoded (reduced) and classified, not refused
    with capsys.disabled():
        print(
            f"\n  {BOMBS} bombs, {BOMBS} threads: peak RSS {peak / 1e6:.0f} MB ({base / 1e6:.0f} MB for one small file)"
        )
    assert peak - base <= DEFAULT_DECODE_BUDGET + (64 << 20)
