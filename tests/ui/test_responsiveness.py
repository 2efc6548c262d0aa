"""The UI stays responsive while thousands of textures classify, and huge folders cost only what is visible."""

from __future__ import annotations

import os
import time

import numpy as np
from PIL import Image
from PySide6.QtCore import QTimer

from app.ui.results_roles import placeholder

PAGE = os.sysconf("SC_PAGE_SIZE")


def rss_bytes() -> int:
    with open("/proc/self/statm") as fh:
        return int(fh.read().split()[1]) * PAGE


def write_textures(folder, count: int, size: int = 32) -> None:
    """`count` small PNGs of varied colour (and some transparency), in sub-folders of 500."""
    rng = np.random.default_rng(0)
    for i in range(count):
        sub = folder / f"set{i // 500:02d}"
        if i % 500 == 0:
            sub.mkdir(parents=True)
        base = rng.integers(0, 256, size=4, dtype=np.uint8)
        pixels = np.empty((size, size, 4), np.uint8)
        pixels[:] = base
        pixels[::4, :, :3] = 255 - base[:3]
        pixels[..., 3] = 255 if i % 3 else 128
        Image.fromarray(pixels, "RGBA").save(sub / f"tex{i:05d}.png", compress_level=1)


def test_event_loop_never_stalls_while_5000_textures_classify(window, tmp_path, qtbot):
    folder = tmp_path / "dump"
    write_textures(folder, 5000)
    gaps: list[float] = []
    peak = [0]
    last = [time.perf_counter()]

    def beat() -> None:
        now = time.perf_counter()
        gaps.append(now - last[0])
        last[0] = now
        peak[0] = max(peak[0], rss_bytes())

    heartbeat = QTimer()
    heartbeat.setInterval(10)
    heartbeat.timeout.connect(beat)
    qtbot.wait(50)
    baseline = rss_bytes()
    heartbeat.start()
    last[0] = time.perf_counter()
    with qtbot.waitSignal(window.session.finished, timeout=180_000) as finished:
        window.open_paths([str(folder)])
    qtbot.wait(300)  # thumbnails of the visible items arrive after the last batch
    heartbeat.stop()

    summary = finished.args[0]
    max_gap_ms = max(gaps) * 1000
    growth_mb = (peak[0] - baseline) / 2**20
    print(
        f"\n5000 textures in {summary.seconds:.1f} s ({5000 / summary.seconds:.0f} files/s); "
        f"{len(gaps)} heartbeats, max gap {max_gap_ms:.1f} ms, median {np.median(gaps) * 1000:.1f} ms; "
        f"RSS {baseline / 2**20:.0f} MiB before, peak {peak[0] / 2**20:.0f} MiB (+{growth_mb:.0f} MiB); "
        f"thumbnails in memory: {window.thumbnails.memory_used / 2**20:.1f} MiB"
    )
    assert summary.files == 5000 and summary.errors == 0
    assert window.model.classified_count() == 5000
    assert max_gap_ms < 100
    assert growth_mb < 150  # results (probabilities, embeddings, hashes) of 5000 files plus bounded caches
    assert window.thumbnails.memory_used <= window.thumbnails.memory_bytes


def test_a_folder_of_100000_rows_decodes_thumbnails_only_for_what_is_visible(window, qtbot, tmp_path):
    rows = [placeholder(str(tmp_path / f"t{i:06d}.png"), 1000 + i, 0.0) for i in range(100_000)]
    requested: set[str] = set()
    loader = window.thumbnails
    original = loader.request

    def spy(path: str) -> None:
        requested.add(path)
        original(path)

    loader.request = spy
    window.pages.setCurrentWidget(window.splitter)
    window.model.set_results(rows)
    qtbot.wait(100)
    grid = window.results_view.grid
    grid.scrollToBottom()
    qtbot.wait(100)
    window.sort_combo.setCurrentIndex(window.sort_combo.findData("size"))
    window.order_button.setChecked(True)
    qtbot.wait(100)

    assert window.model.result(0).size == 1000 + 99_999  # sorted, descending
    assert 0 < len(requested) < 1000  # the visible cells of three screens, not 100,000 files
    window.set_view_mode("details")
    window.results_view.table.scrollToBottom()
    qtbot.wait(100)
    assert len(requested) < 1000
