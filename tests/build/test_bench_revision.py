"""build/bench_revision.py: an earlier revision's bench against this checkout's, in turns."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.skipif(shutil.which("git") is None or not (ROOT / ".git").exists(), reason="needs the git checkout")
def test_two_rounds_against_the_checked_in_head(capsys):
    import bench_revision

    worktrees_before = subprocess.run(
        ["git", "-C", str(ROOT), "worktree", "list"], capture_output=True, text=True, check=True
    ).stdout
    assert bench_revision.main(["HEAD", "--rounds", "2", "--generate", "16"]) == 0
    out = capsys.readouterr().out
    rounds = re.findall(r"^round (\d) (old|new): pipeline +([\d.]+) .*decode ceiling +([\d.]+)", out, re.M)
    assert [(r, side) for r, side, *_ in rounds] == [("1", "old"), ("1", "new"), ("2", "old"), ("2", "new")]
    assert all(float(p) > 0 and float(d) > 0 for *_, p, d in rounds)
    for name in ("pipeline", "decode ceiling", "inference ceiling"):
        line = re.search(rf"^  {name} +([\d.]+) -> +([\d.]+) files/s  ×([\d.]+)  \(rounds: (.*)\)$", out, re.M)
        assert line, name
        before, after, ratio = (float(line.group(i)) for i in (1, 2, 3))
        assert ratio == pytest.approx(after / before, abs=0.006)
        assert len(line.group(4).split(", ")) == 2
    # The temporary worktree is gone again.
    after = subprocess.run(["git", "-C", str(ROOT), "worktree", "list"], capture_output=True, text=True).stdout
    assert after == worktrees_before
