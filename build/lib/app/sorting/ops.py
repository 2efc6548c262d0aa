"""Journaled file operations of a sort and its undo, and the repair of one cut off by a crash.

Each operation writes its intent (synced) before touching anything, so after a kill at any
instant the journal plus what is on disk say exactly how far it got:

* move (same file system): a hard link `dst` is made to `src`, then `src` is unlinked. The
  journal names both paths; "two names of one file" is the only half-way state.
* copy / xmove (copy, or move across file systems): the bytes go to a temporary file next to
  `dst` (`.tsort-<sort>-<phase><index>.part`, unique to this operation, so it is always ours),
  synced and, for a move, read back and compared; `copied` is journaled; the temporary gets its
  final name without overwriting; an xmove then deletes the source.
* delete (undo of a copy): only when the file still has the exact bytes this sort wrote.

A taken destination is never overwritten: the sort retargets to the next `_clash-N` folder
(journaling a new intent first); an undo leaves the file where it is and says why.
"""

from __future__ import annotations

import errno
import logging
import os
import stat
from dataclasses import dataclass

from app.sorting import fileops
from app.sorting.journal import Journal, OpState
from app.sorting.plan import next_clash_path

log = logging.getLogger(__name__)

TMP_PREFIX = ".tsort-"
TMP_SUFFIX = ".part"


class OpFailed(Exception):
    """An operation did not happen and left nothing behind; `reason` says why, for the user."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


@dataclass
class Placed:
    dst: str
    action: str  # "move" | "xmove" | "copy"
    hash: str | None
    size: int


def describe(exc: OSError) -> str:
    """A short reason for a failed file operation ('permission denied', 'no space left on device')."""
    if exc.errno in (errno.ENOSPC, getattr(errno, "EDQUOT", -1)):
        return "the destination disk is full"
    if exc.errno == errno.EFBIG:
        return "the file is too large for the destination"
    where = _where(exc)
    if exc.errno in (errno.EACCES, errno.EPERM):
        return f"permission denied: {where}" if where else "permission denied"
    if exc.errno == errno.EROFS:
        return f"read-only file system: {where}" if where else "read-only file system"
    text = exc.strerror or str(exc)
    return f"{text}: {where}" if where else text


def _where(exc: OSError) -> str:
    """The path to name in a message: our temporary file means its folder (the user's view)."""
    name = os.fspath(exc.filename) if exc.filename else ""
    base = os.path.basename(name)
    return os.path.dirname(name) if base.startswith(TMP_PREFIX) and base.endswith(TMP_SUFFIX) else name


class Operator:
    """Runs journaled operations for one phase ("s" sort, "u" undo) of one sort."""

    def __init__(self, journal: Journal, phase: str, tag: str, *, record_mkdirs: bool):
        self.journal = journal
        self.phase = phase
        self.tag = tag
        self.record_mkdirs = record_mkdirs

    # -- journal helpers ----------------------------------------------------------------------
    def _intent(self, i: int, **fields) -> None:
        self.journal.append({"t": "intent", "ph": self.phase, "i": i, **fields}, sync=True)

    def record(self, kind: str, i: int, *, sync: bool = False, **fields) -> None:
        self.journal.append({"t": kind, "ph": self.phase, "i": i, **fields}, sync=sync)

    def _mkdir(self, path: str) -> None:
        if self.record_mkdirs:
            self.journal.append({"t": "mkdir", "path": path})

    def ensure_folder(self, folder: str) -> None:
        fileops.make_dirs(folder, self._mkdir)

    def tmp_path(self, dst: str, i: int) -> str:
        # Short and fixed-length, so a 250-character texture name still fits the file system limit.
        return os.path.join(os.path.dirname(dst), f"{TMP_PREFIX}{self.tag}-{self.phase}{i}{TMP_SUFFIX}")

    # -- forward operations ---------------------------------------------------------------------
    def transfer(
        self, i: int, src: str, dst: str, st: os.stat_result, *, keep_source: bool, retarget: bool
    ) -> Placed:
        """Copy or move `src` (whose lstat is `st`) to `dst`, never overwriting.

        With `retarget` a taken `dst` moves on to the next `_clash-N` folder; without, the
        operation fails. Raises OpFailed or OSError when nothing was done.
        """
        self.ensure_folder(os.path.dirname(dst))
        if not keep_source and os.stat(os.path.dirname(dst)).st_dev == st.st_dev:
            placed = self._link_move(i, src, dst, st, retarget)
            if placed is not None:
                return placed
        return self._copy(i, src, dst, st, keep_source=keep_source, retarget=retarget)

    def _retarget(self, dst: str, retarget: bool) -> str:
        if not retarget:
            raise OpFailed(f"{dst} exists and is never overwritten")
        new = next_clash_path(dst)
        self.ensure_folder(os.path.dirname(new))
        log.info("name taken, using %s", new)
        return new

    def _link_move(self, i, src, dst, st, retarget) -> Placed | None:
        while True:
            self._intent(i, a="move", src=src, dst=dst, size=st.st_size)
            try:
                linked = fileops.link_noreplace(src, dst)
                break
            except FileExistsError:
                dst = self._retarget(dst, retarget)
            except OSError as exc:
                if exc.errno == errno.EXDEV:  # same st_dev yet another mount (bind mounts): copy
                    return None
                raise
        if linked:
            # The new name must be on disk before the old one goes, or a power cut could lose both.
            fileops.fsync_dir(os.path.dirname(dst))
            try:
                os.unlink(src)
            except OSError as exc:
                # The original cannot go (read-only folder): drop our second name, keep the file.
                os.unlink(dst)
                raise OpFailed(f"cannot remove the original ({describe(exc)}); left in place") from exc
        return Placed(dst, "move", None, st.st_size)

    def _copy(self, i, src, dst, st, *, keep_source: bool, retarget: bool) -> Placed:
        action = "copy" if keep_source else "xmove"
        tmp = self.tmp_path(dst, i)
        self._intent(i, a=action, src=src, dst=dst, tmp=tmp, size=st.st_size)
        digest, size = fileops.copy_to_temp(src, tmp)
        if size != st.st_size:
            fileops.remove_if_file(tmp)
            raise OpFailed("the file changed while it was being copied; left in place")
        # A move verifies before the original may go: read the copy back and compare.
        if not keep_source and fileops.digest_file(tmp) != (digest, size):
            fileops.remove_if_file(tmp)
            raise OpFailed("the copy did not read back identical; the original was kept")
        self.record("copied", i, sync=True, hash=digest, size=size)
        while True:
            try:
                fileops.place_noreplace(tmp, dst)
                break
            except FileExistsError:
                try:
                    dst = self._retarget(dst, retarget)
                except OpFailed:
                    fileops.remove_if_file(tmp)
                    raise
                self._intent(i, a=action, src=src, dst=dst, tmp=tmp, size=size, hash=digest)
            except OSError:
                fileops.remove_if_file(tmp)
                raise
        if not keep_source:
            fileops.fsync_dir(os.path.dirname(dst))  # the copy's name is durable before the source goes
            try:
                now = os.lstat(src)
                if (now.st_size, now.st_mtime_ns) != (st.st_size, st.st_mtime_ns):
                    raise OpFailed("the file changed while it was being moved; the original was kept")
                os.unlink(src)
            except (OpFailed, OSError) as exc:
                os.unlink(dst)  # just placed by us from a copy whose bytes we verified
                if isinstance(exc, OpFailed):
                    raise
                raise OpFailed(f"cannot remove the original ({describe(exc)}); the copy was removed") from exc
        return Placed(dst, action, digest, size)

    def delete_copy(self, i: int, path: str, digest: str, size: int) -> str | None:
        """Remove a file this sort copied, only if its bytes are still ours; None, or why it was kept."""
        try:
            st = os.lstat(path)
        except FileNotFoundError:
            return "already gone"
        if not stat.S_ISREG(st.st_mode) or st.st_size != size or fileops.digest_file(path) != (digest, size):
            return "changed after the sort, so it is not ours to delete; kept"
        self._intent(i, a="delete", src=path, hash=digest, size=size)
        os.unlink(path)
        return None

    # -- repair after a crash -------------------------------------------------------------------
    def settle(self, i: int, op: OpState, *, forward: bool) -> str:
        """Bring an operation cut off mid-way to a clean state and journal it.

        `forward` completes a half-done operation (resume); otherwise it is reverted (roll back).
        An operation that had fully happened stays done either way (roll back then undoes it).
        Returns the outcome written: "done", "abandon", "keep" or "error".
        """
        intent = op.intent
        action, src, dst = intent["a"], intent["src"], intent["dst"]
        try:
            if action == "move":
                return self._settle_move(i, intent, forward)
            if action in ("copy", "xmove"):
                return self._settle_copy(i, op, forward)
            if action == "delete":
                if os.path.lexists(src) and fileops.digest_file(src) != (intent["hash"], intent["size"]):
                    self.record("keep", i, sync=True, reason="changed after the sort; kept")
                    return "keep"
                fileops.remove_if_file(src)
                self.record("done", i, sync=True, a="delete", src=src, dst=src)
                return "done"
        except OSError as exc:
            reason = f"could not repair the interrupted operation {src} -> {dst}: {describe(exc)}"
            log.error("%s", reason)
            self.record("error", i, sync=True, reason=reason)
            return "error"
        raise ValueError(f"unknown journaled action {action!r}")

    def _settle_move(self, i, intent, forward) -> str:
        src, dst = intent["src"], intent["dst"]
        have_src, have_dst = os.path.lexists(src), os.path.lexists(dst)
        if have_src and have_dst and fileops.same_file(src, dst):
            os.unlink(src if forward else dst)  # the one half-way state: two names of one file
            if not forward:
                self.record("abandon", i, sync=True)
                return "abandon"
            have_src = False
        if not have_src and have_dst:
            # Source gone, destination there: the move happened. (A destination that existed
            # before fails the no-replace link and leaves the source.) Inode numbers are not
            # compared: FAT file systems renumber them after a remount.
            self.record("done", i, sync=True, a="move", src=src, dst=dst, hash=None, size=intent.get("size"))
            return "done"
        if have_src:
            self.record("abandon", i, sync=True)
            return "abandon"
        reason = f"{src} is at neither its source nor {dst}"
        self.record("error", i, sync=True, reason=reason)
        return "error"

    def _settle_copy(self, i, op: OpState, forward) -> str:
        intent = op.intent
        action, src, dst, tmp = intent["a"], intent["src"], intent["dst"], intent["tmp"]
        if op.copied is None:  # the copy itself was cut off: only our temporary can exist
            fileops.remove_if_file(tmp)
            self.record("abandon", i, sync=True)
            return "abandon"
        digest, size = op.copied["hash"], op.copied["size"]
        if os.path.lexists(tmp):
            placed = fileops.same_file(tmp, dst)
            fileops.remove_if_file(tmp)
        else:
            placed = os.path.lexists(dst) and fileops.digest_file(dst) == (digest, size)
        if placed and action == "xmove" and os.path.lexists(src):
            # Both exist: finish the move only if the original still has the bytes we copied.
            if forward and fileops.digest_file(src) == (digest, size):
                os.unlink(src)
            else:
                os.unlink(dst)
                placed = False
        if not placed:
            self.record("abandon", i, sync=True)
            return "abandon"
        self.record("done", i, sync=True, a=action, src=src, dst=dst, hash=digest, size=size)
        return "done"
