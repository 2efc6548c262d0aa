"""Fault injection: a move sort of 500 files is SIGKILLed at random points; resume and roll back
must each leave every file byte-identical at exactly one place, with no partial file left over.
The undo of a finished sort is killed the same way: resume (or roll back) must bring every file
back to its source; none may be stranded in OUT."""

from __future__ import annotations

import hashlib
import os
import random
import shutil
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest

from ai.types import Prediction
from app.results import FileResult
from app.sorting import apply_plan, resume_sort
from app.sorting.journal import list_sorts, read_journal, unfinished_sorts
from app.sorting.ops import TMP_SUFFIX
from app.sorting.plan import STATE_DIR_NAME, build_plan
from app.sorting.undo import rollback_sort, undo_last_sort

pytestmark = pytest.mark.skipif(sys.platform != "linux", reason="SIGKILL, fork and /proc: Linux")

FILES = 500
RUNS_SAME_DEVICE = 50
RUNS_CROSS_DEVICE = 12  # only where /dev/shm is another file system: exercises copy + verify + delete
CATEGORIES = ["map/normal", "ui/hud", "character/face", "environment/sky", "font", "effect/particle"]


def _make_pristine(root: Path, rng: random.Random) -> dict[str, bytes]:
    """500 small files with unique contents, clashing names across folders, unicode and a long name."""
    files = {}
    for n in range(FILES):
        folder = f"dump{n % 17:02d}" + ("/mips" if n % 5 == 0 else "")
        name = f"tex{n % 120:03d}.png"  # the same name in several folders: clash folders get used
        if n % 50 == 7:
            name = f"ñandú-テクスチャ-{n}.png"
        if n == 11:
            name = "L" * 200 + ".png"
        rel = f"{folder}/{name}"
        data = n.to_bytes(4, "little") + rng.randbytes(rng.randint(1024, 4096) - 4)
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        files[rel] = data
    return files


def _results(root: Path, rng: random.Random) -> list[FileResult]:
    out = []
    for path in sorted(root.rglob("*")):
        if path.is_file():
            st = path.stat()
            category = CATEGORIES[int(hashlib.md5(path.name.encode()).hexdigest(), 16) % len(CATEGORIES)]
            out.append(FileResult(str(path), st.st_size, st.st_mtime, [Prediction(category, rng.random())]))
    return out


def _clone(*pairs: tuple[Path, Path]) -> None:
    """Mirror trees with hard links: fast, and it keeps every "same file" relation and inode number
    exactly (a move killed between link and unlink leaves one file with two names, one in the
    source and one in OUT). The sort never writes into an existing texture, so sharing is safe;
    its own state files are copied."""
    for src, dst in pairs:
        if not src.exists():
            continue
        for folder, _dirs, files in os.walk(src):
            target = dst / os.path.relpath(folder, src)
            target.mkdir(parents=True, exist_ok=True)
            for name in files:
                if STATE_DIR_NAME in Path(folder).parts:
                    shutil.copy2(os.path.join(folder, name), target / name)  # the journal is appended to
                else:
                    os.link(os.path.join(folder, name), target / name)


def _restore(*pairs: tuple[Path, Path]) -> None:
    for saved, live in pairs:
        _reset(live)
        if saved.exists():
            live.parent.mkdir(parents=True, exist_ok=True)
            os.rename(saved, live)


def _reset(path: Path) -> None:
    if path.exists():
        shutil.rmtree(path)


def _inventory(*roots: Path) -> tuple[dict[bytes, list[str]], list[str]]:
    """content -> every path holding it, and any leftover temporary files (sort state excluded)."""
    where: dict[bytes, list[str]] = {}
    partials = []
    for root in roots:
        for folder, dirs, files in os.walk(root):
            dirs[:] = [d for d in dirs if d != STATE_DIR_NAME]
            for name in files:
                path = os.path.join(folder, name)
                if name.endswith(TMP_SUFFIX):
                    partials.append(path)
                    continue
                with open(path, "rb") as fh:
                    where.setdefault(fh.read(), []).append(path)
    return where, partials


# A long-lived helper that has imported the sort code once and forks one child per run, so each
# killed sort starts in milliseconds. The child runs the real apply_plan on the saved plan, or
# the real undo of the newest sort in an output folder ("undo OUT").
_ZYGOTE = r"""
import os, sys
sys.path.insert(0, sys.argv[1])
from app.sorting.apply import apply_plan
from app.sorting.plan import SortPlan
from app.sorting.undo import undo_last_sort
for line in sys.stdin:
    pid = os.fork()
    if pid == 0:
        try:
            command, _, path = line.strip().partition(" ")
            if command == "undo":
                undo_last_sort(path)
            else:
                apply_plan(SortPlan.load(path))
        finally:
            os._exit(0)
    print(pid, flush=True)
    os.waitpid(pid, 0)
    print("exited", flush=True)
"""


class Zygote:
    def __init__(self):
        root = str(Path(__file__).resolve().parents[2])
        env = {**os.environ, "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1"}
        self.proc = subprocess.Popen(
            [sys.executable, "-c", _ZYGOTE, root],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            env=env,
        )

    def kill_at(self, plan_path: Path, journal_dir: Path, stop_after_lines: int, command: str = "apply") -> int:
        """Run the sort (or `command` "undo" of OUT at `plan_path`) in a fresh child; SIGKILL it once
        its journal has `stop_after_lines` lines."""
        self.proc.stdin.write(f"{command} {plan_path}\n")
        self.proc.stdin.flush()
        pid = int(self.proc.stdout.readline())
        lines = 0
        while True:
            journals = list(journal_dir.glob("*.journal.jsonl")) if journal_dir.is_dir() else []
            if journals:
                lines = journals[0].read_bytes().count(b"\n")
            if lines >= stop_after_lines or _exited(pid):
                break
            time.sleep(0.0002)
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass  # it finished first
        assert self.proc.stdout.readline().strip() == "exited"
        return lines

    def close(self) -> None:
        self.proc.stdin.close()
        self.proc.wait(timeout=30)
        self.proc.stdout.close()


def _exited(pid: int) -> bool:
    # The zygote reaps the child; until then a finished child is a zombie, state "Z".
    try:
        with open(f"/proc/{pid}/stat", "rb") as fh:
            return fh.read().rsplit(b")", 1)[1].split()[0] == b"Z"
    except FileNotFoundError:
        return True
    except OSError:
        return False


def _classify_cut(out: Path) -> str:
    """Where in a file operation the kill landed (for the printed coverage figures)."""
    states = list_sorts(str(out))
    if not states or states[0].begin is None:
        return "before the sort began"
    state = states[0]
    if state.end is not None:
        return "after the sort finished"
    flights = state.in_flight("s")
    if not flights:
        return "between files"
    _, op = flights[0]
    src, dst = op.intent["src"], op.intent["dst"]
    have_src, have_dst = os.path.lexists(src), os.path.lexists(dst)
    if op.intent["a"] == "xmove":
        tmp = op.intent["tmp"]
        if op.copied is None:
            return "copying to the temporary file"
        if os.path.lexists(tmp):
            return "temporary complete, not yet placed"
        return "placed, original not yet deleted" if have_src else "moved, not yet journaled"
    if have_src and have_dst:
        return "file with two names (link made, original not yet unlinked)"
    if have_dst:
        return "moved, not yet journaled"
    return "intent journaled, nothing done"


def _check_resumed(where, partials, files, out: Path) -> None:
    assert not partials, f"partial files left: {partials}"
    assert len(where) == len(files) and sum(len(v) for v in where.values()) == len(files)
    for rel, data in files.items():
        paths = where.get(data)
        assert paths is not None, f"lost {rel}"
        assert len(paths) == 1, f"duplicated {rel}: {paths}"
        assert paths[0].startswith(str(out) + os.sep), f"{rel} not sorted after resume: {paths[0]}"


def _check_rolled_back(where, partials, files, src: Path) -> None:
    assert not partials, f"partial files left: {partials}"
    assert sum(len(v) for v in where.values()) == len(files)
    for rel, data in files.items():
        assert where.get(data) == [str(src / rel)], f"{rel} not back at its source: {where.get(data)}"


def _run_campaign(
    tmp: Path, out_base: Path, runs: int, seed: int, zygote: Zygote, totals: Counter, cuts: Counter
) -> None:
    """`runs` killed sorts of one pristine tree in `tmp` into `out_base/out`, each resumed and
    (from a copy of the same killed state at the same paths) rolled back."""
    rng = random.Random(seed)
    pristine = tmp / "pristine"
    files = _make_pristine(pristine, rng)
    src, out = tmp / "work" / "src", out_base / "out"
    saved_src, saved_out = tmp / "saved-src", out_base / "saved-out"  # same file systems as the live ones
    _clone((pristine, src))
    plan = build_plan(_results(src, rng), out, source_root=src, mode="move", min_confidence=0.2)
    assert len(plan.entries) == FILES
    plan_path = tmp / "plan.json"
    plan.save(plan_path)

    # Calibration: an uninterrupted run gives the journal length to aim random kills at.
    apply_plan(plan)
    full_lines = sum(f.read_bytes().count(b"\n") for f in (out / STATE_DIR_NAME).glob("*.journal.jsonl"))
    _check_resumed(*_inventory(src, out), files, out)

    for run in range(runs):
        for path in (src, out):
            _reset(path)
        _clone((pristine, src))
        target = 0 if run == 0 else rng.randint(1, full_lines)
        zygote.kill_at(plan_path, out / STATE_DIR_NAME, target)
        cut = _classify_cut(out)
        cuts[cut] += 1
        _clone((src, saved_src), (out, saved_out))

        # 1. Resume the killed sort where it stopped.
        if cut == "before the sort began":
            _check_rolled_back(*_inventory(src, out), files, src)  # nothing happened yet
            apply_plan(plan)  # a journal without its begin record is inert: the sort starts over
        else:
            summary = resume_sort(str(out))
            assert summary.counts["error"] == 0, summary.problems
        assert not unfinished_sorts(str(out))
        _check_resumed(*_inventory(src, out), files, out)
        if run % 10 == 3:  # a resumed sort undoes like any other
            undo_last_sort(str(out))
            _check_rolled_back(*_inventory(src, out), files, src)

        # 2. Roll back the same killed state, put back at the same absolute paths.
        _restore((saved_src, src), (saved_out, out))
        if out.exists():
            if cut == "after the sort finished":
                undo_last_sort(str(out))  # nothing to roll back: the sort had ended; undo it instead
            else:
                rollback_sort(str(out))
            assert not unfinished_sorts(str(out))
            assert all(read_journal(s.journal_path).undone for s in list_sorts(str(out)) if s.begin)
        _check_rolled_back(*_inventory(src, out), files, src)
        totals["runs"] += 1
        totals["files checked"] += 2 * len(files)


@pytest.fixture(scope="module")
def zygote():
    helper = Zygote()
    yield helper
    helper.close()


def _fast_scratch() -> Path | None:
    shm = Path("/dev/shm")  # tmpfs: creating thousands of small files per run is cheap there
    return shm if shm.is_dir() and os.access(shm, os.W_OK) else None


def test_move_sort_killed_at_random_points_resumes_and_rolls_back_without_loss(tmp_path, zygote, capsys):
    totals, cuts = Counter(), Counter()
    started = time.perf_counter()
    shm = _fast_scratch()
    base = shm / f"texture-sorter-faults-{os.getpid()}" if shm else tmp_path / "same"
    cross = shm is not None and shm.stat().st_dev != tmp_path.stat().st_dev
    try:
        _run_campaign(base / "same", base / "same", RUNS_SAME_DEVICE, 1234, zygote, totals, cuts)
        if cross:  # source on the disk, OUT on tmpfs: moves become copy + verify + delete
            _run_campaign(tmp_path / "cross", base / "cross", RUNS_CROSS_DEVICE, 4321, zygote, totals, cuts)
    finally:
        shutil.rmtree(base, ignore_errors=True)
    with capsys.disabled():
        print(
            f"\nfault injection: {totals['runs']} killed runs ({RUNS_SAME_DEVICE} same device"
            f"{f', {RUNS_CROSS_DEVICE} across devices' if cross else ''}), {totals['files checked']} files "
            f"checked, lost 0, duplicated 0, partial files 0 ({time.perf_counter() - started:.0f} s)"
        )
        for where, n in cuts.most_common():
            print(f"  killed {where}: {n}")
    assert totals["runs"] >= 50
    mid_sort = sum(
        n for where, n in cuts.items() if where not in ("before the sort began", "after the sort finished")
    )
    assert mid_sort >= 25


UNDO_RUNS = 36


def _undo_cut(out: Path) -> str:
    (state,) = list_sorts(str(out))
    if state.undo_begin is None:
        return "before the undo began"
    if state.undo_end is not None:
        return "after the undo finished"
    flights = state.in_flight("u")
    if not flights:
        return "between files"
    _, op = flights[0]
    src, dst = op.intent["src"], op.intent.get("dst")
    if os.path.lexists(src) and dst and os.path.lexists(dst):
        return "file with two names (link made, OUT's name not yet unlinked)"
    return "restored, not yet journaled" if dst and os.path.lexists(dst) else "undo intent journaled, nothing done"


def _stranded(where: dict[bytes, list[str]], files: dict[str, bytes], src: Path) -> list[str]:
    """Files that are not back at their source exactly once: left in OUT, lost or duplicated."""
    return [rel for rel, data in files.items() if where.get(data) != [str(src / rel)]]


def test_undo_killed_at_random_points_is_finished_by_resume_or_rollback(tmp_path, zygote, capsys):
    rng = random.Random(99)
    shm = _fast_scratch()
    base = shm / f"texture-sorter-undo-faults-{os.getpid()}" if shm else tmp_path / "undo"
    pristine, src, out = base / "pristine", base / "src", base / "out"
    sorted_src, sorted_out, saved_src, saved_out = (base / n for n in ("s-src", "s-out", "k-src", "k-out"))
    cuts, stranded, runs = Counter(), 0, 0
    try:
        files = _make_pristine(pristine, rng)
        _clone((pristine, src))
        plan = build_plan(_results(src, rng), out, source_root=src, mode="move", min_confidence=0.2)
        apply_plan(plan)
        _clone((src, sorted_src), (out, sorted_out))  # the finished sort every run starts from
        journal = next((out / STATE_DIR_NAME).glob("*.journal.jsonl"))
        before = journal.read_bytes().count(b"\n")
        undo_last_sort(str(out))  # calibration: how long the undo's journal gets
        after = journal.read_bytes().count(b"\n")
        for _ in range(UNDO_RUNS):
            for path in (src, out, saved_src, saved_out):
                _reset(path)
            _clone((sorted_src, src), (sorted_out, out))
            # Aimed just after an intent line (undo-begin, then intent + done per file): the undo
            # step between its intent and the move is the state that used to strand files.
            target = before + 2 + 2 * rng.randrange((after - before - 2) // 2)
            zygote.kill_at(out, out / STATE_DIR_NAME, target, command="undo")
            cuts[_undo_cut(out)] += 1
            _clone((src, saved_src), (out, saved_out))
            for finish in (resume_sort, rollback_sort):  # each from the same killed state
                if finish is rollback_sort:
                    _restore((saved_src, src), (saved_out, out))
                summary = finish(str(out))
                assert summary.counts["error"] == 0, summary.problems
                assert not unfinished_sorts(str(out)) and list_sorts(str(out))[0].undone
                where, partials = _inventory(src, out)
                assert not partials, partials
                stranded += len(_stranded(where, files, src))
            runs += 1
    finally:
        shutil.rmtree(base, ignore_errors=True)
    with capsys.disabled():
        print(f"\nundo fault injection: {runs} killed undos, each resumed and rolled back: stranded {stranded}")
        for where, n in cuts.most_common():
            print(f"  killed {where}: {n}")
    assert stranded == 0
    mid_undo = sum(n for where, n in cuts.items() if where not in ("before the undo began", "after the undo finished"))
    assert runs >= 30 and mid_undo >= 20
