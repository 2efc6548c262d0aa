"""Reversing a sort on a full disk: roll back and undo write their journal into the space the sort reserved.

Source and output folder are on a 1 MiB tmpfs mounted in a private mount namespace (`unshare`),
filled to the last byte after a move sort, so moving the files back frees nothing and every
journal record needs space the disk does not have. Runs in a child process; skipped where mount
namespaces are not available.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

_CHILD = r"""
import json, os, subprocess, sys
sys.path.insert(0, sys.argv[1])
from ai.errors import SortError
from ai.types import Prediction
from app.results import FileResult
from app.sorting import apply_plan, iter_apply
from app.sorting.journal import list_sorts
try:
    from app.sorting.journal import reserve_path
except ImportError:  # a build from before the reserve: what it does on a full disk is the question
    reserve_path = lambda journal: journal + ".reserve"
from app.sorting.plan import build_plan
from app.sorting.undo import rollback_sort, undo_last_sort

src, disk = sys.argv[2], sys.argv[3]
if subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", disk]).returncode:
    print(json.dumps({"skip": "cannot mount a tmpfs"}))
    sys.exit(0)

def fill(folder):
    chunk = 1 << 16
    with open(os.path.join(folder, "filler"), "wb", buffering=0) as fh:
        while chunk:
            try:
                fh.write(bytes(chunk))
            except OSError:
                chunk //= 2

def sizes(out):
    journal = list_sorts(out)[0].journal_path
    reserve = reserve_path(journal)
    return os.path.getsize(journal), os.path.getsize(reserve) if os.path.exists(reserve) else 0

originals = {n: open(os.path.join(src, n), "rb").read() for n in sorted(os.listdir(src))}
report = {}
for how in ("rollback", "undo"):
    here = os.path.join(disk, how, "src")
    os.makedirs(here)
    for name, data in originals.items():
        with open(os.path.join(here, name), "wb") as fh:
            fh.write(data)
    out = os.path.join(disk, how, "out")
    results = [FileResult(os.path.join(here, n), len(d), os.path.getmtime(os.path.join(here, n)),
                          [Prediction("ui/hud", 0.9)]) for n, d in originals.items()]
    plan = build_plan(results, out, source_root=here, mode="move")
    if how == "rollback":
        outcomes = iter_apply(plan)
        for _ in range(12):
            next(outcomes)
        try:
            outcomes.throw(RuntimeError("the program dies"))
        except RuntimeError:
            pass
    else:
        apply_plan(plan)
    fill(disk)
    journal_before, reserved = sizes(out)
    try:
        summary = (rollback_sort if how == "rollback" else undo_last_sort)(out)
        counts = dict(summary.counts)
    except SortError as exc:
        counts = {"failed": str(exc)}
    journal_after, left = sizes(out)
    back = {n: open(os.path.join(here, n), "rb").read() for n in os.listdir(here)} == originals
    report[how] = {"counts": counts, "reserved": reserved, "grew": journal_after - journal_before,
                   "reserve_left": left, "all_back": back, "undone": list_sorts(out)[0].undone}
    os.unlink(os.path.join(disk, "filler"))
    subprocess.run(["rm", "-rf", os.path.join(disk, how)])
print(json.dumps(report))
"""


def _namespace() -> list[str] | None:
    unshare = shutil.which("unshare")
    if unshare is None or not sys.platform.startswith("linux"):
        return None
    return [unshare, "--mount"] if os.geteuid() == 0 else [unshare, "--user", "--map-root-user", "--mount"]


@pytest.mark.skipif(_namespace() is None, reason="needs Linux and unshare for a private tmpfs")
def test_rollback_and_undo_work_on_a_full_disk_within_the_reserved_journal_space(tmp_path):
    src, disk = tmp_path / "src", tmp_path / "disk"
    src.mkdir()
    disk.mkdir()
    for i in range(24):
        (src / f"tex{i:02}.png").write_bytes(os.urandom(20_000))  # 480 KB: half the disk
    env = {**os.environ, "TEXTURE_SORTER_HOME": str(tmp_path / "home")}
    done = subprocess.run(
        [*_namespace(), sys.executable, "-c", _CHILD, str(ROOT), str(src), str(disk)],
        capture_output=True, text=True, env=env, timeout=300,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout.strip().splitlines()[-1])
    if "skip" in report:
        pytest.skip(report["skip"])
    for how, expected in (("rollback", 12), ("undo", 24)):
        result = report[how]
        assert result["counts"] == {"restored": expected}, (how, result)
        assert result["all_back"] and result["undone"], (how, result)
        assert 0 < result["grew"] <= result["reserved"], (how, result)  # only what was set aside
        assert result["reserve_left"] == 0, (how, result)
