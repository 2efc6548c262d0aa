"""Background work for the GUI: one QRunnable that runs any generator, and the Op builder on top of it.

Long work is written as plain generators in `app`/`ai` (classify, sort, undo, train); this module
only runs them on a QThreadPool and carries what they yield to the main thread through signals
(napari/superqt's GeneratorWorker). Cancelling sets a `threading.Event` the generator checks
between steps and closes the generator at the next yield; nothing is ever killed.

`Op` is the one-shot form (Anki's CollectionOp): `Op(parent, fn, *args).success(cb).run()`. The
function runs off the main thread and must not touch widgets; callbacks run on the main thread;
a failure goes to the window's error panel unless a `failure` callback takes it.
"""

from __future__ import annotations

import inspect
import logging
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from PySide6.QtCore import QObject, QRunnable, QThreadPool, Signal

log = logging.getLogger(__name__)

# Workers whose signals may still be delivered: a QObject collected by Python while a queued
# signal is on its way would crash, so each worker keeps itself here until it has finished.
_alive: set[GeneratorWorker] = set()
_alive_lock = threading.Lock()


class WorkerSignals(QObject):
    """Signals of a worker; created on the main thread so its slots run there."""

    started = Signal()
    yielded = Signal(object)
    finished = Signal(object)  # the generator's return value
    errored = Signal(object)  # the exception
    done = Signal()  # after finished or errored, always


class GeneratorWorker(QRunnable):
    """Runs `factory()` (a generator) on a thread pool, emitting each yielded value.

    `cancel` is the flag given to the generator as well; `quit()` sets it and the worker also
    stops pulling values at the next yield.
    """

    def __init__(self, factory: Callable[[], Iterator[Any]], cancel: threading.Event | None = None):
        super().__init__()
        self.setAutoDelete(False)  # Python owns the object; _alive keeps it until done
        self._factory = factory
        self.cancel = cancel or threading.Event()
        self.signals = WorkerSignals()
        self.running = False
        self.finished_ok = False

    def quit(self) -> None:
        self.cancel.set()

    @property
    def is_cancelled(self) -> bool:
        return self.cancel.is_set()

    def start(self, pool: QThreadPool | None = None) -> GeneratorWorker:
        with _alive_lock:
            _alive.add(self)
        self.running = True
        (pool or QThreadPool.globalInstance()).start(self)
        return self

    def run(self) -> None:  # worker thread
        signals = self.signals
        try:
            signals.started.emit()
            gen = self._factory()
            result = None
            if inspect.isgenerator(gen) or isinstance(gen, Iterator):
                try:
                    while True:
                        if self.cancel.is_set():
                            close = getattr(gen, "close", None)
                            if close is not None:
                                close()
                            break
                        value = next(gen)
                        signals.yielded.emit(value)
                except StopIteration as stop:
                    result = stop.value
            else:
                result = gen
            self.finished_ok = True
            signals.finished.emit(result)
        except BaseException as exc:  # every failure reaches the UI; nothing dies silently in a thread
            log.debug("worker failed", exc_info=True)
            signals.errored.emit(exc)
        finally:
            self.running = False
            signals.done.emit()
            # Released from the main thread once `done` is delivered (see _release).

    def _release(self) -> None:
        with _alive_lock:
            _alive.discard(self)


def start_worker(
    factory: Callable[[], Iterator[Any]],
    *,
    cancel: threading.Event | None = None,
    on_yield: Callable[[Any], None] | None = None,
    on_finish: Callable[[Any], None] | None = None,
    on_error: Callable[[BaseException], None] | None = None,
    on_done: Callable[[], None] | None = None,
    pool: QThreadPool | None = None,
    keep: Any = None,
) -> GeneratorWorker:
    """Create, connect (before it can emit anything) and start a worker."""
    worker = GeneratorWorker(factory, cancel)
    # PySide holds slots' owners weakly: keep them (an Op, say) alive until the worker is done.
    worker._callbacks = (on_yield, on_finish, on_error, on_done, keep)
    if on_yield is not None:
        worker.signals.yielded.connect(on_yield)
    if on_finish is not None:
        worker.signals.finished.connect(on_finish)
    if on_error is not None:
        worker.signals.errored.connect(on_error)
    if on_done is not None:
        worker.signals.done.connect(on_done)
    # Connected last, so every other slot of `done` has run before the worker may be collected.
    worker.signals.done.connect(worker._release)
    return worker.start(pool)


def batched(items: Iterable[Any], max_items: int = 256, max_seconds: float = 0.05) -> Iterator[list[Any]]:
    """Group a per-item generator into lists, so the UI gets a few signals per second, not one per file."""
    iterator = iter(items)
    chunk: list[Any] = []
    last = time.monotonic()
    try:
        for item in iterator:
            chunk.append(item)
            now = time.monotonic()
            if len(chunk) >= max_items or now - last >= max_seconds:
                yield chunk
                chunk = []
                last = now
        if chunk:
            yield chunk
    finally:
        # Closing this generator must close the one it wraps (a sort ends its journal there).
        close = getattr(iterator, "close", None)
        if close is not None:
            close()


class Op:
    """A one-shot background job with main-thread callbacks.

    `fn(*args, **kwargs)` may return a value or be a generator (its yields go to `progress`).
    Failures go to `failure` if given, else to `parent.report_error(title, exc)` when the parent
    (or its window) has one, else to the log.
    """

    def __init__(self, parent: QObject | None, fn: Callable[..., Any], *args: Any, **kwargs: Any):
        self._parent = parent
        self._fn = fn
        self._args = args
        self._kwargs = kwargs
        self._success: Callable[[Any], None] | None = None
        self._failure: Callable[[BaseException], None] | None = None
        self._progress: Callable[[Any], None] | None = None
        self._finally: Callable[[], None] | None = None
        self._title = getattr(fn, "__name__", "task").replace("_", " ")
        self.cancel = threading.Event()

    def success(self, callback: Callable[[Any], None]) -> Op:
        self._success = callback
        return self

    def failure(self, callback: Callable[[BaseException], None]) -> Op:
        self._failure = callback
        return self

    def progress(self, callback: Callable[[Any], None]) -> Op:
        self._progress = callback
        return self

    def always(self, callback: Callable[[], None]) -> Op:
        self._finally = callback
        return self

    def titled(self, title: str) -> Op:
        """What the error panel calls this job when it fails."""
        self._title = title
        return self

    def run(self, pool: QThreadPool | None = None) -> GeneratorWorker:
        fn, args, kwargs = self._fn, self._args, self._kwargs

        def factory():
            return fn(*args, **kwargs)

        worker = start_worker(
            factory,
            cancel=self.cancel,
            on_yield=self._progress,
            on_finish=self._on_success,
            on_error=self._on_failure,
            on_done=self._finally,
            pool=pool,
            keep=self,
        )
        return worker

    def _on_success(self, value: Any) -> None:
        if self._success is not None:
            self._success(value)

    def _on_failure(self, exc: BaseException) -> None:
        if self._failure is not None:
            self._failure(exc)
            return
        target = self._parent
        while target is not None and not hasattr(target, "report_error"):
            target = target.parent() if isinstance(target, QObject) else None
        if target is not None:
            target.report_error(self._title, exc)
        else:
            log.error("%s failed: %s", self._title, exc, exc_info=exc)
