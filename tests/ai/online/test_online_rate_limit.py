"""RateLimiter: sliding per-minute and per-hour windows, waits, and thread safety (injected clock)."""

from __future__ import annotations

import threading

import pytest

from ai.online.rate_limit import RateLimiter


class FakeClock:
    def __init__(self, now: float = 1000.0):
        self.now = now
        self.slept: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


def test_per_minute_limit_refuses_the_next_request_and_says_how_long_to_wait():
    clock = FakeClock()
    limiter = RateLimiter(per_minute=3, clock=clock)
    assert [limiter.try_acquire() for _ in range(3)] == [0.0, 0.0, 0.0]
    clock.now += 10
    assert limiter.try_acquire() == pytest.approx(50.0)
    assert "3 requests per minute" in limiter.reason()
    clock.now += 50
    assert limiter.try_acquire() == 0.0


def test_window_slides_instead_of_resetting_each_minute():
    clock = FakeClock()
    limiter = RateLimiter(per_minute=3, clock=clock)
    for step in (0, 30, 29):  # requests at t=0, 30, 59
        clock.now += step
        assert limiter.try_acquire() == 0.0
    clock.now += 1.5  # t=60.5: only the request from t=0 has left the window
    assert limiter.try_acquire() == 0.0
    assert limiter.try_acquire() == pytest.approx(29.5)  # the next slot frees at t=90


def test_per_hour_limit_holds_when_the_minute_has_room():
    clock = FakeClock()
    limiter = RateLimiter(per_minute=100, per_hour=5, clock=clock)
    for _ in range(5):
        assert limiter.try_acquire() == 0.0
        clock.now += 61
    wait = limiter.try_acquire()
    assert wait == pytest.approx(3600 - 5 * 61)
    assert "5 requests per hour" in limiter.reason()
    assert limiter.used() == (0, 5)


def test_refused_requests_do_not_use_up_slots():
    clock = FakeClock()
    limiter = RateLimiter(per_minute=1, clock=clock)
    assert limiter.try_acquire() == 0.0
    for _ in range(10):
        assert limiter.try_acquire() > 0
    clock.now += 60
    assert limiter.try_acquire() == 0.0
    assert limiter.used() == (1, 0)


def test_zero_means_unlimited():
    limiter = RateLimiter(per_minute=0, per_hour=0, clock=FakeClock())
    assert all(limiter.try_acquire() == 0.0 for _ in range(10_000))


def test_acquire_sleeps_when_the_wait_fits_and_refuses_when_it_does_not():
    clock = FakeClock()
    limiter = RateLimiter(per_minute=1, clock=clock)
    assert limiter.acquire(max_wait=0, sleep=clock.sleep)
    assert not limiter.acquire(max_wait=10, sleep=clock.sleep)
    assert clock.slept == []  # a wait that cannot fit is not slept at all
    assert limiter.acquire(max_wait=61, sleep=clock.sleep)
    assert clock.slept == [pytest.approx(60.0)]


def test_concurrent_threads_get_exactly_the_limit():
    clock = FakeClock()  # frozen: every request falls in the same window
    limiter = RateLimiter(per_minute=50, per_hour=1000, clock=clock)
    granted = []
    lock = threading.Lock()
    start = threading.Barrier(8)

    def hammer():
        start.wait()
        mine = sum(1 for _ in range(100) if limiter.try_acquire() == 0.0)
        with lock:
            granted.append(mine)

    threads = [threading.Thread(target=hammer) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sum(granted) == 50
    assert limiter.used() == (50, 50)
