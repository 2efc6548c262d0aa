"""Applying sort plans and undoing them: copy/move, clashes, changed files, permissions, full disks,
links, unicode and long names, cross-device moves, cancel, interrupted sorts, locking."""

from __future__ import annotations

import errno
import json
import os
import shutil
import stat
import subprocess
import sys
import tempfile
import threading
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from ai.errors import SortError
from ai.types import Prediction
from app.results import FileResult
from app.sorting import apply_plan, iter_apply, resume_sort
from app.sorting.journal import SortLock, iter_records, list_sorts, unfinished_sorts
from app.sorting.ops import TMP_SUFFIX
from app.sorting.plan import STATE_DIR_NAME, SortPlan, build_plan
from app.sorting.undo import rollback_sort, undo_last_sort

ROOT = Path(__file__).resolve().parents[2]
POSIX = os.name == "posix"


def _png(path: Path, seed: int, size: int = 32) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    Image.fromarray((rng.random((size, size, 4)) * 255).astype(np.uint8), "RGBA").save(path)
    return path


def _results(paths, category="ui/hud", confidence=0.9) -> list[FileResult]:
    out = []
    for p in paths:
        st = os.stat(p)
        cat = category(p) if callable(category) else category
        out.append(FileResult(str(p), st.st_size, st.st_mtime, [Prediction(cat, confidence)]))
    return out


def _snapshot(root: Path) -> dict[str, bytes]:
    """Every file under root (sort state excluded) → its bytes."""
    files = {}
    for folder, dirs, names in os.walk(root):
        dirs[:] = [d for d in dirs if d != STATE_DIR_NAME]
        for name in names:
            path = Path(folder, name)
            files[str(path.relative_to(root))] = path.read_bytes()
    return files


def _setup(tmp_path: Path, n: int = 4) -> tuple[Path, Path, list[Path]]:
    src, out = tmp_path / "src", tmp_path / "out"
    paths = [_png(src / f"d{i % 2}" / f"tex{i}.png", i) for i in range(n)]
    return src, out, paths


def _no_partials(*roots: Path) -> None:
    for root in roots:
        assert not [p for p in root.rglob("*") if p.name.endswith(TMP_SUFFIX)], "partial file left behind"


def test_copy_then_undo_leaves_the_source_untouched_and_removes_only_the_copies(tmp_path):
    src, out, paths = _setup(tmp_path)
    before = _snapshot(src)
    summary = apply_plan(build_plan(_results(paths), out, source_root=src, mode="copy"))
    assert summary.counts == {"copied": 4} and not summary.problems
    assert _snapshot(src) == before
    assert _snapshot(out) == {f"ui/hud/tex{i}.png": before[f"d{i % 2}/tex{i}.png"] for i in range(4)}
    undone = undo_last_sort(str(out))
    assert undone.counts == {"removed": 4}
    assert _snapshot(src) == before
    assert sorted(p.name for p in out.iterdir()) == [STATE_DIR_NAME], "created folders are removed again"


def test_move_then_undo_puts_every_file_back_byte_identical(tmp_path):
    src, out, paths = _setup(tmp_path)
    before = _snapshot(src)
    summary = apply_plan(build_plan(_results(paths), out, source_root=src, mode="move"))
    assert summary.counts == {"moved": 4}
    assert _snapshot(src) == {}
    assert sorted(_snapshot(out).values()) == sorted(before.values())
    assert undo_last_sort(str(out)).counts == {"restored": 4}
    assert _snapshot(src) == before
    _no_partials(src, out)


def test_undo_keeps_a_copy_the_user_changed_and_files_the_user_added(tmp_path):
    src, out, paths = _setup(tmp_path, 2)
    apply_plan(build_plan(_results(paths), out, source_root=src, mode="copy"))
    edited = out / "ui" / "hud" / "tex0.png"
    edited.write_bytes(b"the user painted over this copy")
    (out / "ui" / "hud" / "notes.txt").write_text("mine")
    summary = undo_last_sort(str(out))
    assert summary.counts == {"removed": 1, "kept": 1}
    assert "changed after the sort" in summary.problems[0].reason
    assert edited.read_bytes() == b"the user painted over this copy"
    assert (out / "ui" / "hud" / "notes.txt").read_text() == "mine"
    assert not (out / "ui" / "hud" / "tex1.png").exists()


def test_undo_never_moves_a_file_over_one_that_took_its_original_place(tmp_path):
    src, out, paths = _setup(tmp_path, 2)
    apply_plan(build_plan(_results(paths), out, source_root=src, mode="move"))
    paths[0].write_bytes(b"a new file with the old name")
    summary = undo_last_sort(str(out))
    assert summary.counts == {"restored": 1, "kept": 1}
    assert paths[0].read_bytes() == b"a new file with the old name"
    assert (out / "ui" / "hud" / "tex0.png").exists(), "the sorted file stays where it is"
    assert "taken by another file" in summary.problems[0].reason


def test_a_file_that_appears_at_the_destination_after_planning_is_never_overwritten(tmp_path):
    src, out, paths = _setup(tmp_path, 1)
    plan = build_plan(_results(paths), out, source_root=src, mode="move")
    intruder = out / "ui" / "hud" / "tex0.png"
    intruder.parent.mkdir(parents=True)
    intruder.write_bytes(b"someone else's file")
    data = paths[0].read_bytes()
    summary = apply_plan(plan)
    assert summary.counts == {"moved": 1}
    assert intruder.read_bytes() == b"someone else's file"
    assert (out / "ui" / "hud" / "_clash-2" / "tex0.png").read_bytes() == data
    undo_last_sort(str(out))
    assert paths[0].read_bytes() == data and intruder.read_bytes() == b"someone else's file"
    assert not (out / "ui" / "hud" / "_clash-2").exists()


def test_files_changed_or_vanished_since_the_plan_are_skipped_with_a_reason(tmp_path):
    src, out, paths = _setup(tmp_path, 4)
    plan = build_plan(_results(paths), out, source_root=src, mode="move")
    paths[0].unlink()
    paths[1].write_bytes(paths[1].read_bytes() + b"more")
    os.utime(paths[2], (1_000_000, 1_000_000))  # same size, other modification time
    summary = apply_plan(plan)
    assert summary.counts == {"skipped": 3, "moved": 1}
    reasons = {Path(p.source).name: p.reason for p in summary.problems}
    assert reasons == {
        "tex0.png": "vanished since the plan was made",
        "tex1.png": "changed since the plan was made",
        "tex2.png": "changed since the plan was made",
    }
    assert paths[1].exists() and paths[2].exists()


@pytest.mark.skipif(not hasattr(os, "symlink"), reason="no symlinks")
def test_a_source_replaced_by_a_link_after_planning_is_not_followed(tmp_path):
    src, out, paths = _setup(tmp_path, 1)
    plan = build_plan(_results(paths), out, source_root=src, mode="move")
    secret = _png(tmp_path / "elsewhere" / "secret.png", 9)
    paths[0].unlink()
    paths[0].symlink_to(secret)
    summary = apply_plan(plan)
    assert summary.counts == {"skipped": 1} and summary.problems[0].reason == "no longer a regular file"
    assert secret.exists() and paths[0].is_symlink()


def test_read_only_files_are_moved_and_copied_and_undone_intact(tmp_path):
    src, out, paths = _setup(tmp_path, 2)
    for p in paths:
        p.chmod(0o444)
    before = _snapshot(src)
    for mode in ("copy", "move"):
        summary = apply_plan(build_plan(_results(paths), out, source_root=src, mode=mode))
        assert not summary.problems
        assert {stat.S_IMODE(p.stat().st_mode) for p in out.rglob("*.png")} == {0o444}, "mode kept"
        undo_last_sort(str(out))
        assert _snapshot(src) == before
        assert not list(out.rglob("*.png"))


@pytest.mark.parametrize("mode", ["copy", "move"])
def test_unicode_and_very_long_names_survive_a_sort_and_its_undo(tmp_path, mode):
    src, out = tmp_path / "src", tmp_path / "out"
    names = ["ñandú-テクスチャ-текстура.png", "n" * 251 + ".png", "emoji-🎮 space.png", "ＦＵＬＬ.png"]
    paths = [_png(src / "ü" / name, i) for i, name in enumerate(names)]
    paths.append(_png(src / "other" / names[1], 9))  # long name clashing: the clash folder keeps it whole
    before = _snapshot(src)
    summary = apply_plan(build_plan(_results(paths), out, source_root=src, mode=mode))
    assert not summary.problems
    assert sorted(p.name for p in out.rglob("*.png")) == sorted(names + [names[1]])
    assert (out / "ui" / "hud" / "_clash-2" / names[1]).exists()
    undo_last_sort(str(out))
    assert _snapshot(src) == before
    _no_partials(src, out)


def test_a_crashed_sort_blocks_new_sorts_until_resumed_or_rolled_back(tmp_path):
    src, out, paths = _setup(tmp_path, 4)
    before = _snapshot(src)
    plan = build_plan(_results(paths), out, source_root=src, mode="move")
    outcomes = iter_apply(plan)
    next(outcomes)
    next(outcomes)
    with pytest.raises(RuntimeError):  # the program dies between two files
        outcomes.throw(RuntimeError("crash"))
    assert [s.sort_id for s in unfinished_sorts(str(out))] == [outcomes.sort_id]
    with pytest.raises(SortError, match="resume"):
        apply_plan(plan)
    with pytest.raises(SortError, match="resume"):
        undo_last_sort(str(out))
    assert rollback_sort(str(out)).counts == {"restored": 2}
    assert _snapshot(src) == before and not unfinished_sorts(str(out))

    outcomes = iter_apply(build_plan(_results(paths), out, source_root=src, mode="move"))
    next(outcomes)
    with pytest.raises(RuntimeError):
        outcomes.throw(RuntimeError("crash"))
    assert resume_sort(str(out)).counts == {"moved": 3}
    assert _snapshot(src) == {} and len(_snapshot(out)) == 4


@pytest.mark.parametrize("finish", [resume_sort, rollback_sort])
def test_an_undo_killed_between_its_intent_and_the_move_is_finished_not_abandoned(tmp_path, monkeypatch, finish):
    src, out, paths = _setup(tmp_path, 3)
    before = _snapshot(src)
    apply_plan(build_plan(_results(paths), out, source_root=src, mode="move"))
    from app.sorting import fileops

    def killed(*_args):  # the process dies right after the undo journaled its first intent
        raise KeyboardInterrupt

    with monkeypatch.context() as patch:
        patch.setattr(fileops, "link_noreplace", killed)
        with pytest.raises(KeyboardInterrupt):
            undo_last_sort(str(out))
    assert [r["t"] for r in iter_records(list_sorts(str(out))[0].journal_path)][-2:] == ["undo-begin", "intent"]
    assert finish(str(out)).counts == {"restored": 3}  # the interrupted step too, not only the rest
    assert _snapshot(src) == before and _snapshot(out) == {}
    assert not unfinished_sorts(str(out))


def test_cancel_stops_between_files_and_the_partial_sort_can_be_undone(tmp_path):
    src, out, paths = _setup(tmp_path, 6)
    before = _snapshot(src)
    cancel = threading.Event()
    seen = []

    def progress(done, total, path):
        seen.append((done, total))
        if done == 2:
            cancel.set()

    summary = apply_plan(
        build_plan(_results(paths), out, source_root=src, mode="move"), progress=progress, cancel=cancel
    )
    assert summary.cancelled and summary.counts == {"moved": 2} and seen == [(1, 6), (2, 6)]
    state = list_sorts(str(out))[0]
    assert state.end["status"] == "cancelled" and not state.unfinished
    undo_last_sort(str(out))
    assert _snapshot(src) == before


def test_only_one_sort_at_a_time_per_output_folder(tmp_path):
    src, out, paths = _setup(tmp_path, 1)
    plan = build_plan(_results(paths), out, source_root=src)
    with SortLock(str(out)), pytest.raises(SortError, match="another sort"):
        apply_plan(plan)
    assert apply_plan(plan).counts == {"copied": 1}


def test_undo_walks_back_through_earlier_sorts_and_then_says_there_is_nothing_left(tmp_path):
    src, out, paths = _setup(tmp_path, 2)
    before = _snapshot(src)
    apply_plan(build_plan(_results(paths[:1]), out, source_root=src, mode="move"))
    apply_plan(build_plan(_results(paths[1:], "font"), out, source_root=src, mode="move"))
    assert undo_last_sort(str(out)).counts == {"restored": 1}
    assert paths[1].exists() and not paths[0].exists()
    assert undo_last_sort(str(out)).counts == {"restored": 1}
    assert _snapshot(src) == before
    with pytest.raises(SortError, match="no sort to undo"):
        undo_last_sort(str(out))


def test_sorting_into_a_folder_inside_the_source_never_picks_up_its_own_output(tmp_path):
    from app.scan import scan_textures

    src = tmp_path / "src"
    out = src / "sorted"
    paths = [_png(src / f"t{i}.png", i) for i in range(3)]
    for _ in range(2):  # the second sort must see the 3 originals, not the 3 copies as well
        files, _problems = scan_textures([src], exclude=[out])
        assert sorted(f.path for f in files) == sorted(map(str, paths))
        apply_plan(build_plan(_results(map(Path, (f.path for f in files))), out, source_root=src))
    assert len(list(out.rglob("*.png"))) == 6


def test_every_operation_is_journaled_before_it_happens(tmp_path):
    src, out, paths = _setup(tmp_path, 2)
    apply_plan(build_plan(_results(paths), out, source_root=src, mode="move"))
    records = list(iter_records(list_sorts(str(out))[0].journal_path))
    kinds = [r["t"] for r in records if r["t"] != "mkdir"]
    assert kinds == ["begin", "intent", "done", "intent", "done", "end"]
    assert records[0]["mode"] == "move" and records[-1]["status"] == "complete"


# --- across file systems ----------------------------------------------------------------------


def _other_device(tmp_path: Path) -> Path | None:
    shm = Path("/dev/shm")
    if shm.is_dir() and os.access(shm, os.W_OK) and shm.stat().st_dev != tmp_path.stat().st_dev:
        return shm
    return None


def test_a_move_across_file_systems_copies_verifies_then_deletes_and_undoes(tmp_path):
    other = _other_device(tmp_path)
    if other is None:
        pytest.skip("needs a second file system (/dev/shm)")
    src = tmp_path / "src"
    paths = [_png(src / f"t{i}.png", i, size=64) for i in range(3)]
    before = _snapshot(src)
    out = Path(tempfile.mkdtemp(dir=other, prefix="texture-sorter-test-"))
    try:
        summary = apply_plan(build_plan(_results(paths), out, source_root=src, mode="move"))
        assert summary.counts == {"moved": 3}
        assert _snapshot(src) == {} and sorted(_snapshot(out).values()) == sorted(before.values())
        actions = [r["a"] for r in iter_records(list_sorts(str(out))[0].journal_path) if r["t"] == "done"]
        assert actions == ["xmove"] * 3
        assert undo_last_sort(str(out)).counts == {"restored": 3}
        assert _snapshot(src) == before
        _no_partials(src, out)
    finally:
        shutil.rmtree(out, ignore_errors=True)


# --- permissions and write failures, in a child process -----------------------------------------
# Root ignores file permissions, so when the tests run as root the child drops to "nobody".

_CHILD = r"""
import json, os, resource, signal, sys
sys.path.insert(0, sys.argv[1])
limit = int(sys.argv[3])
if limit:
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # then an over-limit write fails with EFBIG
    resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))
from app.sorting.apply import apply_plan
from app.sorting.plan import SortPlan
if os.geteuid() == 0:  # after the imports: the interpreter may live where "nobody" cannot read
    os.setgroups([])
    os.setgid(int(sys.argv[4]))
    os.setuid(int(sys.argv[4]))
summary = apply_plan(SortPlan.load(sys.argv[2]))
print(json.dumps({"counts": dict(summary.counts),
                  "problems": {os.path.basename(p.source): p.reason for p in summary.problems}}))
"""
NOBODY = 65534


@pytest.fixture
def open_tmp(tmp_path):
    """A scratch folder the unprivileged child can reach (tmp_path's parents are private to root)."""
    path = Path(tempfile.mkdtemp(prefix="texture-sorter-perm-"))
    path.chmod(0o755)
    yield path
    for folder, dirs, _files in os.walk(path):
        for d in dirs:
            os.chmod(os.path.join(folder, d), 0o755)
    shutil.rmtree(path)


def _run_child(plan: SortPlan, work: Path, *, fsize_limit: int = 0) -> dict:
    plan_path = work / "plan.json"
    plan.save(plan_path)
    env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1", "TEXTURE_SORTER_HOME": str(work / "home")}
    if os.geteuid() == 0:
        for folder, dirs, files in os.walk(work):
            for name in [*dirs, *files]:
                os.chown(os.path.join(folder, name), NOBODY, NOBODY, follow_symlinks=False)
        os.chown(work, NOBODY, NOBODY)
    done = subprocess.run(
        [sys.executable, "-c", _CHILD, str(ROOT), str(plan_path), str(fsize_limit), str(NOBODY)],
        capture_output=True, text=True, env=env, timeout=120,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.strip().splitlines()[-1])


@pytest.mark.skipif(not POSIX, reason="POSIX permissions")
def test_a_read_only_source_folder_keeps_its_files_in_move_mode_and_the_rest_go_on(open_tmp):
    src, out = open_tmp / "src", open_tmp / "out"
    locked = [_png(src / "locked" / f"l{i}.png", i) for i in range(2)]
    free = [_png(src / "free" / f"f{i}.png", 10 + i) for i in range(2)]
    before = _snapshot(src)
    plan = build_plan(_results(locked + free), out, source_root=src, mode="move")
    (src / "locked").chmod(0o555)
    result = _run_child(plan, open_tmp)
    assert result["counts"] == {"moved": 2, "error": 2}
    assert all("cannot remove the original (permission denied" in r for r in result["problems"].values())
    assert all(p.exists() for p in locked) and not any(p.exists() for p in free)
    assert sorted(p.name for p in out.rglob("*.png")) == ["f0.png", "f1.png"], "no copy of a locked file"
    (src / "locked").chmod(0o755)
    undo_last_sort(str(out))
    assert _snapshot(src) == before


@pytest.mark.skipif(not POSIX, reason="POSIX permissions")
def test_a_destination_without_write_permission_fails_those_files_cleanly(open_tmp):
    src, out = open_tmp / "src", open_tmp / "out"
    paths = [_png(src / f"t{i}.png", i) for i in range(4)]
    plan = build_plan(_results(paths, lambda p: "ui" if p.name in ("t0.png", "t1.png") else "font"), out,
                      source_root=src, mode="copy")  # fmt: skip
    (out / "ui").mkdir(parents=True)
    (out / "ui").chmod(0o555)
    result = _run_child(plan, open_tmp)
    assert result["counts"] == {"copied": 2, "error": 2}
    assert set(result["problems"].values()) == {f"permission denied: {out / 'ui'}"}, "names the folder"
    assert sorted(p.name for p in out.rglob("*.png")) == ["t2.png", "t3.png"]
    _no_partials(out)


@pytest.mark.skipif(not POSIX, reason="POSIX permissions")
def test_a_move_into_a_folder_without_write_permission_names_that_folder(open_tmp):
    src, out = open_tmp / "src", open_tmp / "out"
    paths = [_png(src / f"t{i}.png", i) for i in range(2)]
    plan = build_plan(_results(paths), out, source_root=src, mode="move")
    (out / "ui" / "hud").mkdir(parents=True)
    (out / "ui" / "hud").chmod(0o555)
    result = _run_child(plan, open_tmp)
    assert result["counts"] == {"error": 2}
    assert set(result["problems"].values()) == {f"permission denied: {out / 'ui' / 'hud'}"}, "not the source"
    assert all(p.exists() for p in paths)


@pytest.mark.skipif(not POSIX, reason="needs RLIMIT_FSIZE")
def test_a_write_that_fails_half_way_like_a_full_disk_leaves_no_partial_file(open_tmp):
    src, out = open_tmp / "src", open_tmp / "out"
    small = [_png(src / f"small{i}.png", i) for i in range(3)]
    big = [_png(src / f"big{i}.png", 10 + i, size=400) for i in range(2)]  # ~640 KB each
    plan = build_plan(_results(small + big), out, source_root=src, mode="copy")
    result = _run_child(plan, open_tmp, fsize_limit=256 * 1024)
    assert result["counts"] == {"copied": 3, "error": 2}
    assert set(result["problems"]) == {"big0.png", "big1.png"}
    assert all(r == "the file is too large for the destination" for r in result["problems"].values())
    assert sorted(p.name for p in out.rglob("*.png")) == ["small0.png", "small1.png", "small2.png"]
    _no_partials(out)
    assert all(p.exists() for p in big)


def test_full_disk_errors_are_reported_in_plain_words():
    from app.sorting.ops import describe

    assert describe(OSError(errno.ENOSPC, "No space left on device")) == "the destination disk is full"
    assert describe(PermissionError(errno.EACCES, "Permission denied", "/x")) == "permission denied: /x"
