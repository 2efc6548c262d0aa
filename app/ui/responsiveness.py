"""How responsive the window stays while a folder classifies: event-loop gaps, and work that ran on the UI thread.

`UiThreadWatch` counts decodes, model runs and learner re-ranking by the thread that did them: the
UI thread must do none of them (that is what the test checks; it cannot flake). `measure_gui`
opens a real main window on a generated folder with a 10 ms heartbeat timer and reports the
longest gap between beats — a wall-clock figure for `texture-sorter bench --gui` and the README,
never a test assertion (machines are noisy).
"""

from __future__ import annotations

import os
import tempfile
import threading
import time
from collections import Counter
from pathlib import Path

import numpy as np
from PIL import Image
from PySide6.QtCore import QEventLoop, QTimer

import ai.textures.loader as loader
from ai.inference import OnnxInferenceSession
from ai.learning.learner import IncrementalLearner


class UiThreadWatch:
    """Counts calls of the expensive entry points per thread kind while active (a context manager).

    Patched: texture decoding (every `load_texture` chooses its decoder through `loader._choose`),
    `OnnxInferenceSession.run` and `IncrementalLearner.adjust_probabilities`.
    """

    WATCHED = (
        ("decode", loader, "_choose"),
        ("model", OnnxInferenceSession, "run"),
        ("learner", IncrementalLearner, "adjust_probabilities"),
    )

    def __init__(self):
        self.ui = Counter()
        self.workers = Counter()
        self._lock = threading.Lock()
        self._saved: list[tuple[object, str, object]] = []

    def _wrap(self, kind: str, original):
        def counted(*args, **kwargs):
            on_ui = threading.current_thread() is threading.main_thread()
            with self._lock:
                (self.ui if on_ui else self.workers)[kind] += 1
            return original(*args, **kwargs)

        return counted

    def __enter__(self) -> UiThreadWatch:
        for kind, owner, name in self.WATCHED:
            original = getattr(owner, name)
            self._saved.append((owner, name, original))
            setattr(owner, name, self._wrap(kind, original))
        return self

    def __exit__(self, *exc) -> None:
        for owner, name, original in reversed(self._saved):
            setattr(owner, name, original)
        self._saved.clear()


def write_test_folder(folder: Path, count: int, size: int = 32) -> None:
    """`count` small PNGs of varied colour (some transparent), 500 per sub-folder."""
    rng = np.random.default_rng(0)
    for i in range(count):
        sub = folder / f"set{i // 500:02d}"
        sub.mkdir(parents=True, exist_ok=True)
        base = rng.integers(0, 256, size=4, dtype=np.uint8)
        pixels = np.empty((size, size, 4), np.uint8)
        pixels[:] = base
        pixels[::4, :, :3] = 255 - base[:3]
        pixels[..., 3] = 255 if i % 3 else 128
        Image.fromarray(pixels, "RGBA").save(sub / f"tex{i:05d}.png", compress_level=1)


def _rss_mb() -> float:
    with open("/proc/self/statm") as fh:
        return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def measure_gui(files: int = 5000, model_path: str | None = None, timeout_s: float = 600) -> dict:
    """Open a main window on `files` generated textures; event-loop gaps, UI-thread work, memory."""
    from app.ui.main import create_application
    from app.ui.main_window import MainWindow

    app = create_application()
    with tempfile.TemporaryDirectory(prefix="texture-sorter-gui-bench-") as tmp:
        folder = Path(tmp) / "dump"
        write_test_folder(folder, files)
        window = MainWindow(model_path=model_path)
        window.show()
        app.processEvents()
        gaps: list[float] = []
        last = [time.perf_counter()]
        peak = [_rss_mb()]
        baseline = peak[0]

        def beat() -> None:
            now = time.perf_counter()
            gaps.append(now - last[0])
            last[0] = now
            peak[0] = max(peak[0], _rss_mb())

        heartbeat = QTimer()
        heartbeat.setInterval(10)
        heartbeat.timeout.connect(beat)
        loop = QEventLoop()
        summaries = []
        window.session.finished.connect(lambda summary: (summaries.append(summary), loop.quit()))
        QTimer.singleShot(int(timeout_s * 1000), loop.quit)
        with UiThreadWatch() as watch:
            heartbeat.start()
            last[0] = time.perf_counter()
            window.open_paths([str(folder)])
            loop.exec()
            heartbeat.stop()
        window.close()
        window.shutdown_background_work()
    if not summaries:
        raise TimeoutError(f"classification of {files} files did not finish in {timeout_s:.0f} s")
    summary = summaries[0]
    ms = np.asarray(gaps) * 1000 if gaps else np.zeros(1)
    return {
        "files": summary.files,
        "seconds": round(summary.seconds, 2),
        "files_per_s": round(summary.files / max(summary.seconds, 1e-9), 1),
        "heartbeats": len(gaps),
        "max_gap_ms": round(float(ms.max()), 1),
        "p99_gap_ms": round(float(np.percentile(ms, 99)), 1),
        "median_gap_ms": round(float(np.median(ms)), 1),
        "rss_growth_mb": round(peak[0] - baseline, 1),
        "ui_thread_calls": dict(watch.ui),
        "worker_calls": dict(watch.workers),
    }
