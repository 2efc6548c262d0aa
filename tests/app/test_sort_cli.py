"""`texture-sorter sort | undo | resume` end to end, with the real pipeline and a tiny real model."""

from __future__ import annotations

import csv
import json
import os
from pathlib import Path

import pytest
from PIL import Image

from ai.types import Prediction
from app.cli import main
from app.results import FileResult
from app.sorting.apply import iter_apply
from app.sorting.plan import STATE_DIR_NAME, build_plan


def _folder(root: Path) -> Path:
    """Six textures in two subfolders, one exact duplicate and one clashing name."""
    colours = [(250, 10, 10), (10, 250, 10), (10, 10, 250), (200, 200, 40), (30, 30, 30)]
    for i, colour in enumerate(colours):
        sub = root / ("a" if i % 2 else "b")
        sub.mkdir(parents=True, exist_ok=True)
        Image.new("RGBA", (32, 32), (*colour, 255)).save(sub / f"t{i}.png")
    Image.new("RGBA", (32, 32), (*colours[0], 255)).save(root / "a" / "t0.png")  # same name, same pixels
    return root


def _files(root: Path) -> dict[str, bytes]:
    out = {}
    for folder, dirs, names in os.walk(root):
        dirs[:] = [d for d in dirs if d != STATE_DIR_NAME]
        for name in names:
            out[os.path.relpath(os.path.join(folder, name), root)] = Path(folder, name).read_bytes()
    return out


def test_dry_run_shows_and_saves_the_plan_and_changes_nothing(tmp_path, tiny_model, capsys):
    src = _folder(tmp_path / "src")
    before = _files(src)
    plan_file = tmp_path / "plan.json"
    argv = ["sort", str(src), "--out", str(tmp_path / "out"), "--dry-run", "--plan-out", str(plan_file)]
    assert main([*argv, "--model", str(tiny_model), "--dedupe", "exact"]) == 0
    out = capsys.readouterr().out
    assert "plan: copy 6 files" in out and "dry run: nothing was changed" in out
    assert " -> " in out  # every file's destination is listed
    assert _files(src) == before and not (tmp_path / "out").exists()
    plan = json.loads(plan_file.read_text(encoding="utf-8"))
    assert len(plan["entries"]) == 6
    assert [sorted(os.path.basename(m) for m in g["members"]) for g in plan["groups"]] == [
        ["t0.png", "t0.png"]
    ]
    assert plan["groups"][0]["kind"] == "exact"


def test_copy_sort_then_undo_round_trip(tmp_path, tiny_model, capsys):
    src = _folder(tmp_path / "src")
    out_dir = tmp_path / "out"
    before = _files(src)
    assert main(["sort", str(src), "--out", str(out_dir), "--model", str(tiny_model)]) == 0
    text = capsys.readouterr().out
    assert "sorted: 6 copied, 0 errors" in text and f"texture-sorter undo {out_dir}" in text
    sorted_files = _files(out_dir)
    assert len(sorted_files) == 6 and sorted(sorted_files.values()) == sorted(before.values())
    assert any("_clash-2" in p for p in sorted_files), "the second t0.png went to a clash folder"
    assert _files(src) == before

    assert main(["undo", str(out_dir)]) == 0
    assert "6 removed, 0 errors" in capsys.readouterr().out
    assert _files(out_dir) == {} and _files(src) == before
    assert main(["undo", str(out_dir)]) == 1
    assert "no sort to undo" in capsys.readouterr().err


def test_move_into_a_folder_inside_the_source_with_duplicates_set_apart(tmp_path, tiny_model, capsys):
    src = _folder(tmp_path / "src")
    out_dir = src / "sorted"
    before = _files(src)
    plan_file = tmp_path / "plan.json"
    argv = ["sort", str(src), "--out", str(out_dir), "--mode", "move", "--dedupe", "exact", "--plan-out",
            str(plan_file), "--model", str(tiny_model)]  # fmt: skip
    assert main(argv) == 0
    assert "sorted: 6 moved, 0 errors" in capsys.readouterr().out
    moved = _files(out_dir)
    assert [p for p in moved if p.startswith("_duplicates")] == [os.path.join("_duplicates", "t0.png")]
    assert json.loads(plan_file.read_text(encoding="utf-8"))["groups"][0]["members"][1].endswith("t0.png")
    assert set(_files(src)) == {os.path.relpath(out_dir / p, src) for p in moved}, "the sources are gone"
    # A second sort of the same folder finds nothing new: the output is not sorted again.
    assert main(["sort", str(src), "--out", str(out_dir), "--model", str(tiny_model)]) == 0
    assert "plan: copy 0 files" in capsys.readouterr().out
    assert main(["undo", str(out_dir)]) == 0  # undoes the empty second sort
    assert main(["undo", str(out_dir)]) == 0
    assert {k: v for k, v in _files(src).items() if not k.startswith("sorted")} == before


def test_manifest_only_writes_the_manifest_and_moves_nothing(tmp_path, tiny_model, capsys):
    src = _folder(tmp_path / "src")
    before = _files(src)
    out_dir = tmp_path / "out"
    argv = ["sort", str(src), "--out", str(out_dir), "--manifest-only", "--mode", "move", "--dedupe", "exact"]
    assert main([*argv, "--model", str(tiny_model)]) == 0
    assert "no texture was touched" in capsys.readouterr().out
    assert _files(src) == before
    assert sorted(p.name for p in out_dir.iterdir()) == [
        "texture-sorter-manifest.csv",
        "texture-sorter-manifest.json",
    ]
    with open(out_dir / "texture-sorter-manifest.csv", encoding="utf-8-sig", newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert len(rows) == 6 and {r["group"] for r in rows if r["path"].endswith("t0.png")} != {""}


def _interrupt(src: Path, out_dir: Path) -> None:
    """Leave an interrupted move sort behind (as after a crash): two of four files moved."""
    paths = sorted(src.rglob("*.png"))[:4]
    results = [
        FileResult(str(p), p.stat().st_size, p.stat().st_mtime, [Prediction("ui", 0.9)]) for p in paths
    ]
    outcomes = iter_apply(build_plan(results, out_dir, source_root=src, mode="move"))
    next(outcomes)
    next(outcomes)
    with pytest.raises(RuntimeError):
        outcomes.throw(RuntimeError("power cut"))


def test_an_interrupted_sort_is_reported_then_resumed(tmp_path, tiny_model, capsys):
    src = _folder(tmp_path / "src")
    out_dir = tmp_path / "out"
    _interrupt(src, out_dir)
    assert main(["sort", str(src), "--out", str(out_dir), "--model", str(tiny_model)]) == 1
    assert f"texture-sorter resume {out_dir}" in capsys.readouterr().err
    assert main(["resume", str(out_dir)]) == 0
    assert "resumed: 2 moved, 0 errors" in capsys.readouterr().out
    assert len(_files(out_dir)) == 4
    assert main(["resume", str(out_dir)]) == 0
    assert "nothing to resume" in capsys.readouterr().out


def test_an_interrupted_sort_can_be_rolled_back(tmp_path, capsys):
    src = _folder(tmp_path / "src")
    before = _files(src)
    out_dir = tmp_path / "out"
    _interrupt(src, out_dir)
    assert main(["resume", "--rollback", str(out_dir)]) == 0
    assert "rolled back: 2 restored, 0 errors" in capsys.readouterr().out
    assert _files(src) == before and _files(out_dir) == {}


@pytest.mark.parametrize(
    "extra",
    [
        ["--min-confidence", "2"],
        ["--mode", "rename"],
        ["--keep-structure", "--layout", "flat"],
        ["--dedupe", "fuzzy"],
    ],
)
def test_bad_arguments_exit_with_usage_errors(tmp_path, extra, capsys):
    src = _folder(tmp_path / "src")
    try:
        code = main(["sort", str(src), "--out", str(tmp_path / "out"), *extra])
    except SystemExit as exc:  # argparse rejects before run
        code = exc.code
    assert code == 2
    assert capsys.readouterr().err


def test_a_missing_source_folder_is_a_usage_error(tmp_path, capsys):
    assert main(["sort", str(tmp_path / "nope"), "--out", str(tmp_path / "out")]) == 2
    assert "no such file or folder" in capsys.readouterr().err
