"""How much memory decoding may take: a byte cap per decode and one budget shared by every thread.

A small file can declare a huge picture (an 8192² 16-bit grey PNG compresses to 130 KB), so the
pixel limit alone does not bound memory. Each decoder states what it will allocate before it
allocates it (`DecodeRequest.reserve`); a decode over `DEFAULT_MAX_DECODE_BYTES` is refused,
and every decode in the process draws from `DECODE_BUDGET`, waiting its turn when the budget is
spent. A folder of such files then costs one or two of them at a time, whatever the number of
worker threads, while ordinary textures (a few MB each) never wait.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import logging
import sys
import threading
from collections import deque
from collections.abc import Iterator
from contextlib import contextmanager

log = logging.getLogger(__name__)

# The largest decode: an 8192² RGBA picture held by Pillow plus the 8192² RGBA array made from it.
DEFAULT_MAX_DECODE_BYTES = 2 * 8192 * 8192 * 4 + (64 << 20)
# Decodes of all threads together; a larger single decode runs alone (FIFO, so it is not starved).
DEFAULT_DECODE_BUDGET = 192 << 20


class DecodeBudget:
    """Bytes that decodes in flight may hold together; first come, first served."""

    def __init__(self, total: int):
        if total < 1:
            raise ValueError(f"budget must be positive, got {total}")
        self.total = total
        self.used = 0
        self.peak = 0
        self._cond = threading.Condition()
        self._queue: deque[object] = deque()

    def acquire(self, nbytes: int) -> None:
        """Block until `nbytes` fit (or until nothing else is held, for a request over the total)."""
        with self._cond:
            if not self._queue and (not self.used or self.used + nbytes <= self.total):
                self.used += nbytes  # the common case: nobody waits and it fits
                self.peak = max(self.peak, self.used)
                return
            ticket = object()
            self._queue.append(ticket)
            try:
                while self._queue[0] is not ticket or (self.used and self.used + nbytes > self.total):
                    self._cond.wait()
            finally:
                self._queue.remove(ticket)
                self._cond.notify_all()  # the next in line may fit now
            self.used += nbytes
            self.peak = max(self.peak, self.used)

    def release(self, nbytes: int) -> None:
        with self._cond:
            self.used -= nbytes
            if self._queue:
                self._cond.notify_all()


DECODE_BUDGET = DecodeBudget(DEFAULT_DECODE_BUDGET)

# glibc keeps memory freed by a thread in that thread's malloc arena: after a large decode in each
# of N worker threads the process would keep N large decodes' worth. Trimming after a large
# decode hands it back (other C libraries return large blocks to the system on free).
_TRIM_AFTER_BYTES = 64 << 20


def _malloc_trim():
    if not sys.platform.startswith("linux"):
        return None
    try:
        trim = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6").malloc_trim
    except (OSError, AttributeError):  # not glibc (musl): nothing to trim
        return None
    trim.argtypes, trim.restype = [ctypes.c_size_t], ctypes.c_int
    return trim


_TRIM = _malloc_trim()


class MemoryHold:
    """One decode's share of a budget: reserved once, released when the hold ends."""

    def __init__(self, budget: DecodeBudget):
        self.budget = budget
        self.held = 0

    def reserve(self, nbytes: int) -> None:
        if self.held:
            # A second reservation could wait on memory this thread already holds: a deadlock.
            raise RuntimeError("a decode reserves its memory once")
        nbytes = max(1, int(nbytes))
        self.budget.acquire(nbytes)
        self.held = nbytes

    def release(self) -> None:
        if self.held:
            held, self.held = self.held, 0
            if held >= _TRIM_AFTER_BYTES and _TRIM is not None:
                _TRIM(0)
            self.budget.release(held)


@contextmanager
def decode_memory(budget: DecodeBudget | None = None) -> Iterator[MemoryHold]:
    """Keep a decode's memory reserved beyond load_texture, while its full-size pixels are still used.

    `with decode_memory() as hold: t = load_texture(path, hold=hold); hash(t.pixels); shrink`.
    """
    hold = MemoryHold(budget or DECODE_BUDGET)
    try:
        yield hold
    finally:
        hold.release()
