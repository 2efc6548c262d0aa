"""File names that are not UTF-8 (old dumps, Latin-1 archives) survive every CLI output and a sort.

The commands run in a child process with a strict UTF-8 console (PYTHONIOENCODING=utf-8), as on
a desktop whose locale is UTF-8: a name Python can only hold with surrogate escapes must neither
crash a print nor leave invalid UTF-8 or invalid JSON behind, and os.fsencode of what the JSON
says must give back the exact bytes of the name.
"""

from __future__ import annotations

import csv
import io
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from PIL import Image

ROOT = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.skipif(
    sys.platform == "win32", reason="POSIX names are bytes; Windows names are UTF-16"
)

NAMES = [b"caf\xe9.png", b"\xff\xfe-dump.png", "テクスチャ.png".encode(), b"lit\\udce9.png"]
BROKEN = b"bad-\xe9.png"


def _folder(root: Path) -> Path:
    folder = root / "in"
    folder.mkdir()
    for i, name in enumerate(NAMES):
        Image.new("RGBA", (32, 32), (60 * i, 200, 30, 255)).save(os.path.join(os.fsencode(folder), name))
    with open(os.path.join(os.fsencode(folder), BROKEN), "wb") as fp:
        fp.write(b"\x89PNG\r\n\x1a\n broken")
    return folder


def _run(*args: str) -> subprocess.CompletedProcess:
    env = dict(os.environ, PYTHONIOENCODING="utf-8", PYTHONPATH=str(ROOT))
    cmd = [sys.executable, "-m", "app.cli", *args]
    proc = subprocess.run(cmd, capture_output=True, env=env, cwd=ROOT, timeout=300)
    assert b"Traceback" not in proc.stderr, proc.stderr.decode("utf-8", "replace")
    proc.stdout.decode("utf-8")  # strict: every byte written is UTF-8
    proc.stderr.decode("utf-8")
    return proc


def _names(records: list[dict]) -> set[bytes]:
    return {os.path.basename(os.fsencode(r["path"])) for r in records}


def test_classify_json_and_jsonl_keep_names_that_are_not_utf8(tmp_path, tiny_model):
    folder = _folder(tmp_path)
    as_json, as_jsonl = tmp_path / "out.json", tmp_path / "out.jsonl"
    for flag, target in (("--json", as_json), ("--jsonl", as_jsonl)):
        proc = _run("classify", str(folder), flag, str(target), "--model", str(tiny_model))
        assert proc.returncode == 0
        assert f"{len(NAMES) + 1} files, 1 error".encode() in proc.stdout + proc.stderr
    records = json.loads(as_json.read_bytes().decode("utf-8"))
    lines = [json.loads(line) for line in as_jsonl.read_bytes().decode("utf-8").splitlines()]
    for found in (records, lines):
        assert _names(found) == {*NAMES, BROKEN}
        (bad,) = (r for r in found if r["error"])
        assert os.fsencode(bad["path"]).endswith(BROKEN)


def test_classify_prints_such_names_to_a_strict_console(tmp_path, tiny_model):
    folder = _folder(tmp_path)
    human = _run("classify", str(folder), "--model", str(tiny_model))
    assert human.returncode == 0
    assert b"caf\\udce9.png" in human.stdout  # the byte that is not UTF-8, escaped as in the JSON
    assert "テクスチャ.png".encode() in human.stdout
    assert b"bad-\\udce9.png" in human.stderr
    to_stdout = _run("classify", str(folder), "--json", "-", "--model", str(tiny_model))
    assert to_stdout.returncode == 0
    assert _names(json.loads(to_stdout.stdout.decode("utf-8"))) == {*NAMES, BROKEN}


def test_sort_plan_manifest_journal_and_undo_keep_names_that_are_not_utf8(tmp_path, tiny_model):
    folder = _folder(tmp_path)
    out, plan = tmp_path / "out", tmp_path / "plan.json"
    model = ("--model", str(tiny_model))
    manifest = _run("sort", str(folder), "--out", str(tmp_path / "manifest"), "--manifest-only", *model)
    assert manifest.returncode == 0
    document = json.loads(
        (tmp_path / "manifest" / "texture-sorter-manifest.json").read_bytes().decode("utf-8")
    )
    assert _names(document["files"]) == set(NAMES)
    raw_csv = (tmp_path / "manifest" / "texture-sorter-manifest.csv").read_bytes()
    rows = list(csv.DictReader(io.StringIO(raw_csv.decode("utf-8-sig", "surrogateescape"))))
    assert {os.path.basename(os.fsencode(r["path"])) for r in rows} == set(NAMES)

    moved = _run("sort", str(folder), "--out", str(out), "--mode", "move", "--plan-out", str(plan), *model)
    assert moved.returncode == 0
    entries = json.loads(plan.read_bytes().decode("utf-8"))["entries"]
    assert {os.path.basename(os.fsencode(e["dest"])) for e in entries} == set(NAMES)
    for entry in entries:
        assert os.path.exists(os.fsencode(entry["dest"])) and not os.path.exists(os.fsencode(entry["source"]))
    (journal,) = (out / ".texture-sorter").glob("*.journal.jsonl")
    for line in journal.read_bytes().decode("utf-8").splitlines():
        json.loads(line)
    assert b"bad-\\udce9.png" in moved.stdout  # left in place, named readably

    undone = _run("undo", str(out))
    assert undone.returncode == 0
    assert set(os.listdir(os.fsencode(folder))) == {*NAMES, BROKEN}
