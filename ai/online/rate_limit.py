"""`RateLimiter`: a thread-safe sliding-window limit on requests per minute and per hour.

The online services bill or throttle per request, so the client counts what it sends itself
instead of learning the limit from 429 answers. The window is a true sliding log (one timestamp
per request, at most `limit` kept per window), so a burst at the end of one minute and the start
of the next cannot double the allowed rate as a fixed-window counter would.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable

MINUTE = 60.0
HOUR = 3600.0


class _Window:
    def __init__(self, limit: int, span: float):
        self.limit = int(limit)
        self.span = float(span)
        self.sent: deque[float] = deque()

    def wait(self, now: float) -> float:
        """Seconds until this window has room for one more request (0 when it has room now)."""
        if self.limit <= 0:
            return 0.0  # 0 or less means "no limit"
        while self.sent and self.sent[0] <= now - self.span:
            self.sent.popleft()
        if len(self.sent) < self.limit:
            return 0.0
        return self.sent[0] + self.span - now


class RateLimiter:
    """At most `per_minute` requests in any 60 s and `per_hour` in any 3600 s (≤ 0: unlimited).

    `clock` returns seconds (monotonic); tests pass their own. All methods are thread-safe.
    """

    def __init__(
        self,
        per_minute: int = 0,
        per_hour: int = 0,
        clock: Callable[[], float] = time.monotonic,
    ):
        self._windows = (_Window(per_minute, MINUTE), _Window(per_hour, HOUR))
        self._clock = clock
        self._lock = threading.Lock()

    @property
    def per_minute(self) -> int:
        return self._windows[0].limit

    @property
    def per_hour(self) -> int:
        return self._windows[1].limit

    def try_acquire(self) -> float:
        """Take a slot if one is free and return 0.0; else take nothing and return the wait in seconds."""
        with self._lock:
            now = self._clock()
            wait = max(w.wait(now) for w in self._windows)
            if wait > 0:
                return wait
            for window in self._windows:
                if window.limit > 0:
                    window.sent.append(now)
            return 0.0

    def acquire(self, max_wait: float, sleep: Callable[[float], None] = time.sleep) -> bool:
        """Take a slot, sleeping while the wait fits in `max_wait` seconds; False when it does not."""
        deadline = self._clock() + max_wait
        while True:
            wait = self.try_acquire()
            if wait == 0.0:
                return True
            if self._clock() + wait > deadline:
                return False
            # Another thread may take the slot first: sleep, then ask again.
            sleep(wait)

    def reason(self) -> str:
        """Which limit is exhausted right now, in words (for error messages)."""
        with self._lock:
            now = self._clock()
            minute, hour = (w.wait(now) for w in self._windows)
        if hour > 0:
            return (
                f"client-side limit of {self.per_hour} requests per hour reached (next slot in {hour:.0f} s)"
            )
        if minute > 0:
            return f"client-side limit of {self.per_minute} requests per minute reached (next slot in {minute:.1f} s)"
        return "no limit reached"

    def used(self) -> tuple[int, int]:
        """Requests counted in the current minute and hour windows."""
        with self._lock:
            now = self._clock()
            for window in self._windows:
                window.wait(now)
            return len(self._windows[0].sent), len(self._windows[1].sent)
