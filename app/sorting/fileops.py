"""File operations that can never overwrite: no-replace link/rename, synced copies, content digests.

Every way a file reaches a destination here fails with FileExistsError when the name is taken:
a hard link (atomic, no overwrite, keeps the inode so a move needs no copy), renameat2 with
RENAME_NOREPLACE on Linux, renamex_np(RENAME_EXCL) on macOS, or os.rename on Windows (which
refuses existing targets). Only where none exists is it check-then-rename, with a tiny race.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import errno
import functools
import hashlib
import logging
import os
import shutil
import stat
import sys

log = logging.getLogger(__name__)

_CHUNK = 1 << 20
# link() failures that mean "this file system has no hard links", not "you may not".
_NO_HARDLINKS = {
    errno.EPERM,
    errno.EMLINK,
    errno.ENOSYS,
    getattr(errno, "ENOTSUP", -1),
    getattr(errno, "EOPNOTSUPP", -1),
}
_AT_FDCWD = -100
_RENAME_NOREPLACE = 1  # linux/fs.h
_RENAME_EXCL = 0x4  # macOS sys/stdio.h


def digest_file(path: str | os.PathLike[str]) -> tuple[str, int]:
    """(blake2b-128 hex, size) of a file's bytes."""
    h = hashlib.blake2b(digest_size=16)
    size = 0
    with open(path, "rb") as fh:
        while chunk := fh.read(_CHUNK):
            h.update(chunk)
            size += len(chunk)
    return h.hexdigest(), size


@functools.lru_cache(maxsize=1)
def _libc():
    if sys.platform not in ("linux", "darwin"):
        return None
    try:
        return ctypes.CDLL(ctypes.util.find_library("c") or None, use_errno=True)
    except OSError:
        return None


def _native_rename_noreplace(src: str, dst: str) -> bool:
    """True when done by the OS without overwrite; False when no such call exists here."""
    libc = _libc()
    if sys.platform == "linux" and libc is not None and hasattr(libc, "renameat2"):
        rc = libc.renameat2(_AT_FDCWD, os.fsencode(src), _AT_FDCWD, os.fsencode(dst), _RENAME_NOREPLACE)
    elif sys.platform == "darwin" and libc is not None and hasattr(libc, "renamex_np"):
        rc = libc.renamex_np(os.fsencode(src), os.fsencode(dst), _RENAME_EXCL)
    else:
        return False
    if rc == 0:
        return True
    err = ctypes.get_errno()
    if err in (errno.EINVAL, errno.ENOSYS, getattr(errno, "ENOTSUP", -1)):
        return False  # the file system does not support the flag (some FUSE and network mounts)
    if err == errno.EEXIST:
        raise FileExistsError(err, os.strerror(err), dst)
    raise OSError(err, os.strerror(err), src, None, dst)


def rename_noreplace(src: str, dst: str) -> None:
    """Rename `src` to `dst` on one file system; FileExistsError if `dst` exists."""
    if os.name == "nt":
        os.rename(src, dst)  # Windows never replaces an existing target here
        return
    if _native_rename_noreplace(src, dst):
        return
    if os.path.lexists(dst):
        raise FileExistsError(errno.EEXIST, os.strerror(errno.EEXIST), dst)
    log.debug("no atomic no-replace rename on this file system; checked then renamed %s", dst)
    os.rename(src, dst)


def link_noreplace(src: str, dst: str) -> bool:
    """Give `src` the additional name `dst` (True), or rename it there (False) where the file
    system has no hard links. Never replaces `dst`; EXDEV passes through for the caller."""
    try:
        os.link(src, dst)
        return True
    except FileExistsError:
        raise
    except OSError as exc:
        if exc.errno in (errno.EACCES, errno.EROFS):
            # os.link names the source, but what refused is the folder the new name goes into.
            raise OSError(exc.errno, exc.strerror, os.path.dirname(dst) or os.curdir) from exc
        if exc.errno not in _NO_HARDLINKS:
            raise
    rename_noreplace(src, dst)
    return False


def place_noreplace(tmp: str, dst: str) -> None:
    """Move a finished temporary file to its final name in the same folder, never overwriting."""
    if link_noreplace(tmp, dst):
        os.unlink(tmp)


def copy_to_temp(src: str, tmp: str) -> tuple[str, int]:
    """Copy `src` into a new file `tmp` (which must not exist), synced to disk; (digest, size).

    The copy keeps the source's modification time and permission bits. On any error the
    partial `tmp` is removed, so a failed copy leaves nothing behind.
    """
    h = hashlib.blake2b(digest_size=16)
    size = 0
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0)
    fd = os.open(tmp, flags, 0o600)
    try:
        with open(src, "rb") as fin, os.fdopen(fd, "wb") as fout:
            fd = -1  # owned by fout now
            while chunk := fin.read(_CHUNK):
                h.update(chunk)
                fout.write(chunk)
                size += len(chunk)
            fout.flush()
            os.fsync(fout.fileno())
        shutil.copystat(src, tmp)
    except BaseException:
        if fd >= 0:
            os.close(fd)
        remove_if_file(tmp)
        raise
    return h.hexdigest(), size


def remove_if_file(path: str) -> bool:
    """Remove `path` if it is a regular file (our own temporary); True if something was removed."""
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        return False
    if not stat.S_ISREG(st.st_mode):
        return False
    try:
        os.unlink(path)
    except FileNotFoundError:
        return False
    return True


def same_file(a: str, b: str) -> bool:
    try:
        sa, sb = os.lstat(a), os.lstat(b)
    except FileNotFoundError:
        return False
    return (sa.st_dev, sa.st_ino) == (sb.st_dev, sb.st_ino)


def make_dirs(folder: str, on_created) -> None:
    """Create `folder` and missing parents, calling `on_created(path)` for each one made here.

    Only folders this call created are reported, so an undo removes only those (when empty).
    """
    missing = []
    current = folder
    while not os.path.isdir(current):
        if os.path.lexists(current):
            raise NotADirectoryError(errno.ENOTDIR, "a file with this name is in the way", current)
        missing.append(current)
        parent = os.path.dirname(current)
        if parent == current:
            break
        current = parent
    for path in reversed(missing):
        try:
            os.mkdir(path)
        except FileExistsError:
            if not os.path.isdir(path):
                raise
            continue  # made meanwhile by someone else: not ours to remove later
        on_created(path)


def fsync_dir(folder: str) -> None:
    """Make a rename or link in `folder` durable (POSIX); a no-op where folders cannot be opened."""
    if os.name == "nt":
        return
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass  # some file systems refuse fsync on folders; the journal still says what happened
    finally:
        os.close(fd)
