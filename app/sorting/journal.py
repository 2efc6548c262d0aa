"""The sort journal: an append-only, fsync'd JSON-lines record of every file operation of a sort.

Each sort has `OUT/.texture-sorter/<sort id>.plan.json` (the plan, written first) and
`<sort id>.journal.jsonl`. Before touching a file the journal records the intent (synced);
after, the completion. Replaying the journal tells what finished, what was in flight when the
program died, and what an undo must reverse. Record types:

    begin       sort id, mode, out, source root, total
    intent      ph ("s" sort / "u" undo), i (plan index), a (move|xmove|copy|delete), src, dst, tmp
    copied      ph, i, hash, size: the temporary copy is complete and verified
    done        ph, i, dst, hash, size: the operation finished
    skip/error  ph, i, reason: nothing was changed for this file
    keep        ph, i, reason: undo left this file where it is (changed by the user, path taken)
    abandon     ph, i: an interrupted operation was found undone and cleaned up
    mkdir       path: a folder this sort created (removed by undo when empty)
    end         status: complete | cancelled | interrupted
    undo-begin / undo-end   an undo (or roll back) of this sort

Next to the journal, `<sort id>.reserve` holds the bytes an undo of the sort may append: made
when the sort starts and given up only by an undo or roll back that finds the disk full (often
filled by the sort itself), so that reversing a sort never fails for want of journal space. The
undo's records fit in what was reserved; the reserve goes when the undo ends.
"""

from __future__ import annotations

import contextlib
import errno
import json
import logging
import os
import secrets
import time
from collections.abc import Iterator
from dataclasses import dataclass, field

from ai.errors import SortError
from app.sorting.plan import STATE_DIR_NAME, SortPlan

log = logging.getLogger(__name__)

JOURNAL_VERSION = 1
_JOURNAL_SUFFIX = ".journal.jsonl"
_PLAN_SUFFIX = ".plan.json"
_RESERVE_SUFFIX = ".reserve"
LOCK_NAME = "lock"
_DISK_FULL = (errno.ENOSPC, getattr(errno, "EDQUOT", errno.ENOSPC))
# Per file, an undo writes at most an intent, a copied and a done record, each naming the two
# paths (and a temporary next to one of them), plus ids, hashes and sizes.
_UNDO_BYTES_FIXED = 4096
_UNDO_BYTES_PER_FILE = 400
_CLASH_ROOM = 24  # a destination that moved on to a _clash-N folder is a little longer


def state_dir(out_dir: str) -> str:
    return os.path.join(out_dir, STATE_DIR_NAME)


def new_sort_id() -> str:
    """Sortable by time, unique across processes: '20250101T120000.123456-1a2b3c'."""
    now = time.time()
    stamp = time.strftime("%Y%m%dT%H%M%S", time.gmtime(now)) + f".{int(now % 1 * 1e6):06d}"
    return f"{stamp}-{secrets.token_hex(3)}"


def reserve_path(journal_path: str) -> str:
    return (
        journal_path[: -len(_JOURNAL_SUFFIX)] + _RESERVE_SUFFIX
        if journal_path.endswith(_JOURNAL_SUFFIX)
        else journal_path + _RESERVE_SUFFIX
    )


def undo_reserve_bytes(plan: SortPlan) -> int:
    """What an undo or roll back of `plan` may append to its journal, at most."""
    paths = sum(len(json.dumps(e.source)) + len(json.dumps(e.dest)) + _CLASH_ROOM for e in plan.entries)
    return _UNDO_BYTES_FIXED + 3 * paths + _UNDO_BYTES_PER_FILE * len(plan.entries)


def make_reserve(journal_path: str, nbytes: int) -> bool:
    """Set aside `nbytes` of disk next to the journal for its undo; False (and a warning) if there is no room."""
    path = reserve_path(journal_path)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0), 0o644)
        try:
            if hasattr(os, "posix_fallocate"):
                os.posix_fallocate(fd, 0, nbytes)
            else:  # real zeros: the blocks are the file's until it is deleted
                for start in range(0, nbytes, 1 << 20):
                    os.write(fd, bytes(min(1 << 20, nbytes - start)))
            os.fsync(fd)
        finally:
            os.close(fd)
    except OSError as exc:
        with contextlib.suppress(OSError):
            os.unlink(path)
        log.warning(
            "%s: cannot set aside %d bytes for undoing this sort on a full disk: %s", path, nbytes, exc
        )
        return False
    return True


def _ends_mid_line(path: str) -> bool:
    """True when the file's last byte is not a newline (an empty or missing file ends no line)."""
    try:
        with open(path, "rb") as fh:
            fh.seek(-1, os.SEEK_END)
            return fh.read(1) != b"\n"
    except OSError:  # empty: seeking before the start
        return False


class Journal:
    """Appends records to a journal file; `sync=True` makes them durable before returning.

    An undo's journal (`use_reserve`) gives up the sort's reserve when the disk is full and
    writes on into the space it frees.
    """

    def __init__(self, path: str, *, use_reserve: bool = False):
        self.path = path
        self.use_reserve = use_reserve
        flags = os.O_WRONLY | os.O_APPEND | os.O_CREAT | getattr(os, "O_BINARY", 0)
        self._fd = os.open(path, flags, 0o644)
        if _ends_mid_line(path):
            # A kill cut the last record short (a write that crosses a page of the file can stop
            # half-way). End that line here, or the next record would be glued to it and be lost
            # with it: resume's or roll back's record of the operation the kill interrupted.
            log.warning(
                "%s: the last line of this sort journal was cut off when the program was stopped; it is ignored",
                path,
            )
            self._write(b"\n", sync=True)

    def append(self, record: dict, *, sync: bool = False) -> None:
        # One write() per record: with O_APPEND a record is never interleaved with another. A kill
        # or a power cut can still tear the last line; the reader skips it, and the next Journal
        # opened on the file ends it first.
        self._write((json.dumps(record, separators=(",", ":")) + "\n").encode("ascii"), sync=sync)

    def _write(self, data: bytes, *, sync: bool = False) -> None:
        try:
            while data:
                try:
                    written = os.write(self._fd, data)
                except OSError as exc:
                    if exc.errno in _DISK_FULL and self._give_up_reserve():
                        continue  # the rest of this record goes into the space just freed
                    raise
                data = data[written:]
            if sync:
                self._fsync()
        except OSError as exc:
            raise SortError(f"{self.path}: cannot write the sort journal: {exc}") from exc

    def _fsync(self) -> None:
        try:
            os.fsync(self._fd)
        except OSError as exc:
            if exc.errno not in _DISK_FULL or not self._give_up_reserve():
                raise
            os.fsync(self._fd)

    def _give_up_reserve(self) -> bool:
        if not self.use_reserve:
            return False
        try:
            os.unlink(reserve_path(self.path))
        except OSError:
            return False  # none left (or never made): the disk full error stands
        log.info("%s: the disk is full; using the space reserved for this undo", self.path)
        return True

    def drop_reserve(self) -> None:
        """The sort is undone: its reserve is no longer needed."""
        with contextlib.suppress(FileNotFoundError):
            os.unlink(reserve_path(self.path))

    def sync(self) -> None:
        os.fsync(self._fd)

    def close(self) -> None:
        if self._fd >= 0:
            with contextlib.suppress(OSError):
                os.fsync(self._fd)
            os.close(self._fd)
            self._fd = -1


@dataclass
class OpState:
    """What the journal says about one file in one phase (sort or undo)."""

    intent: dict | None = None  # the latest intent (a retarget or a cross-device switch supersedes)
    copied: dict | None = None  # the copied record after that intent
    outcome: str | None = None  # "done" | "skip" | "error" | "abandon" | None while in flight
    record: dict | None = None  # the outcome record

    @property
    def in_flight(self) -> bool:
        return self.intent is not None and self.outcome is None


@dataclass
class SortState:
    """A sort replayed from its journal."""

    sort_id: str
    journal_path: str
    plan_path: str
    begin: dict | None = None
    end: dict | None = None
    undo_begin: dict | None = None
    undo_end: dict | None = None
    ops: dict[tuple[str, int], OpState] = field(default_factory=dict)
    mkdirs: list[str] = field(default_factory=list)
    damaged_lines: int = 0

    @property
    def out_dir(self) -> str:
        return self.begin["out"] if self.begin else os.path.dirname(os.path.dirname(self.journal_path))

    @property
    def unfinished(self) -> bool:
        """A sort or undo that started and never reached its end record: resume or roll back."""
        if self.undo_begin is not None:
            return self.undo_end is None
        return self.begin is not None and self.end is None

    @property
    def undone(self) -> bool:
        return self.undo_end is not None

    def op(self, phase: str, index: int) -> OpState:
        return self.ops.setdefault((phase, index), OpState())

    def in_flight(self, phase: str) -> list[tuple[int, OpState]]:
        return sorted((i, s) for (ph, i), s in self.ops.items() if ph == phase and s.in_flight)

    def outcome(self, phase: str, index: int) -> str | None:
        state = self.ops.get((phase, index))
        return state.outcome if state else None

    def load_plan(self) -> SortPlan:
        return SortPlan.load(self.plan_path)


def read_journal(path: str) -> SortState:
    """Replay a journal file into a SortState; a torn or garbled line is counted and skipped."""
    name = os.path.basename(path)
    sort_id = name[: -len(_JOURNAL_SUFFIX)] if name.endswith(_JOURNAL_SUFFIX) else name
    state = SortState(sort_id, path, os.path.join(os.path.dirname(path), sort_id + _PLAN_SUFFIX))
    try:
        with open(path, "rb") as fh:
            lines = fh.read().splitlines()
    except OSError as exc:
        raise SortError(f"{path}: cannot read the sort journal: {exc}") from exc
    for line in lines:
        try:
            rec = json.loads(line)
            kind = rec["t"]
        except (ValueError, KeyError, TypeError):
            state.damaged_lines += 1
            continue
        if kind == "begin":
            state.begin = rec
        elif kind == "end":
            state.end = rec
        elif kind == "undo-begin":
            state.undo_begin = rec
        elif kind == "undo-end":
            state.undo_end = rec
        elif kind == "mkdir":
            state.mkdirs.append(rec["path"])
        elif kind == "intent":
            op = state.op(rec["ph"], rec["i"])
            op.intent, op.copied, op.outcome, op.record = rec, None, None, None
            if rec.get("hash"):
                op.copied = {"hash": rec["hash"], "size": rec.get("size")}
        elif kind == "copied":
            state.op(rec["ph"], rec["i"]).copied = rec
        elif kind in ("done", "skip", "error", "abandon", "keep"):
            op = state.op(rec["ph"], rec["i"])
            op.outcome, op.record = kind, rec
    if state.damaged_lines:
        log.warning("%s: %d damaged journal line(s) ignored", path, state.damaged_lines)
    return state


def list_sorts(out_dir: str) -> list[SortState]:
    """All sorts journaled in OUT, oldest first."""
    folder = state_dir(os.path.realpath(out_dir))
    try:
        names = sorted(n for n in os.listdir(folder) if n.endswith(_JOURNAL_SUFFIX))
    except FileNotFoundError:
        return []
    except OSError as exc:
        raise SortError(f"{folder}: cannot read: {exc}") from exc
    return [read_journal(os.path.join(folder, n)) for n in names]


def unfinished_sorts(out_dir: str) -> list[SortState]:
    return [s for s in list_sorts(out_dir) if s.unfinished]


def last_undoable_sort(out_dir: str) -> SortState | None:
    """The newest finished sort not yet undone (undo twice to undo the two last sorts)."""
    for state in reversed(list_sorts(out_dir)):
        if state.begin is not None and state.end is not None and not state.undone:
            return state
    return None


def create_sort_files(plan: SortPlan) -> tuple[str, str, str]:
    """(sort id, plan path, journal path) of a new sort; the plan is saved, synced, first."""
    folder = state_dir(plan.out_dir)
    os.makedirs(folder, exist_ok=True)
    sort_id = new_sort_id()
    plan_path = os.path.join(folder, sort_id + _PLAN_SUFFIX)
    plan.save(plan_path)
    return sort_id, plan_path, os.path.join(folder, sort_id + _JOURNAL_SUFFIX)


class SortLock:
    """One sort, resume or undo at a time per output folder (an OS lock: released if we die)."""

    def __init__(self, out_dir: str):
        self.path = os.path.join(state_dir(out_dir), LOCK_NAME)
        self._fh = None

    def __enter__(self) -> SortLock:
        try:
            os.makedirs(os.path.dirname(self.path), exist_ok=True)
            fh = open(self.path, "a+b")  # noqa: SIM115 - held until __exit__
        except OSError as exc:
            raise SortError(f"{self.path}: cannot open the sort lock: {exc.strerror or exc}") from exc
        try:
            _lock_file(fh)
        except OSError:
            fh.close()
            raise SortError(
                f"{os.path.dirname(os.path.dirname(self.path))}: another sort, resume or undo is "
                "running on this output folder"
            ) from None
        self._fh = fh
        return self

    def __exit__(self, *exc) -> None:
        if self._fh is not None:
            with contextlib.suppress(OSError):
                _unlock_file(self._fh)
            self._fh.close()
            self._fh = None


if os.name == "nt":
    import msvcrt

    def _lock_file(fh) -> None:
        fh.seek(0)
        msvcrt.locking(fh.fileno(), msvcrt.LK_NBLCK, 1)

    def _unlock_file(fh) -> None:
        fh.seek(0)
        msvcrt.locking(fh.fileno(), msvcrt.LK_UNLCK, 1)

else:
    import fcntl

    def _lock_file(fh) -> None:
        fcntl.flock(fh.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)

    def _unlock_file(fh) -> None:
        fcntl.flock(fh.fileno(), fcntl.LOCK_UN)


def iter_records(path: str) -> Iterator[dict]:
    """The journal's records in order (for tools and tests that inspect a sort)."""
    with open(path, "rb") as fh:
        for line in fh:
            with contextlib.suppress(ValueError):
                yield json.loads(line)
