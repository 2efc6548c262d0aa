"""The GUI's building blocks on their own: worker and Op, results model and filter, image loader, settings."""

from __future__ import annotations

import threading

import numpy as np
import pytest
from PIL import Image
from PySide6.QtCore import QObject, QThreadPool

from ai.types import Prediction
from app.results import FileResult
from app.ui.images import ImageLoader
from app.ui.results_filter import ResultsFilter
from app.ui.results_model import ResultsModel
from app.ui.results_roles import FILTER_CORRECTED, FILTER_UNCERTAIN, Role
from app.ui.settings import Settings
from app.ui.worker import Op, batched, start_worker


@pytest.fixture(autouse=True)
def _drain():
    yield
    QThreadPool.globalInstance().waitForDone()


def result(name: str, category: str, confidence: float, size: int = 100) -> FileResult:
    return FileResult(
        path=f"/textures/{name}",
        size=size,
        mtime=0.0,
        predictions=[Prediction(category, confidence), Prediction("sky", 1 - confidence)],
        source="offline",
    )


def test_worker_delivers_yields_in_order_then_the_return_value(qtbot):
    def work():
        yield from range(5)
        return "done"

    got, finished = [], []
    start_worker(work, on_yield=got.append, on_finish=finished.append)  # connected before it starts
    qtbot.waitUntil(lambda: bool(finished), timeout=5000)
    assert got == [0, 1, 2, 3, 4]
    assert finished == ["done"]


def test_cancelling_a_worker_closes_its_generator(qtbot):
    closed = threading.Event()
    pulled = []

    def work():
        try:
            while True:
                pulled.append(1)
                yield len(pulled)
        finally:
            closed.set()

    box, finished = [], []
    box.append(start_worker(work, on_yield=lambda _v: box[0].quit(), on_finish=finished.append))
    qtbot.waitUntil(lambda: bool(finished), timeout=5000)
    assert closed.is_set()
    assert len(pulled) < 10_000  # it stopped pulling soon after the flag, not at the end of time


def test_a_failing_op_reaches_the_nearest_report_error(qtbot):
    class Window(QObject):
        def __init__(self):
            super().__init__()
            self.reported = []

        def report_error(self, title, exc):
            self.reported.append((title, str(exc)))

    window = Window()
    child = QObject(window)

    def broken():
        raise ValueError("the reason")

    Op(child, broken).titled("Doing it").run()
    qtbot.waitUntil(lambda: bool(window.reported), timeout=5000)
    assert window.reported == [("Doing it", "the reason")]


def test_batched_groups_items_and_closes_what_it_wraps():
    closed = []

    def numbers():
        try:
            yield from range(10)
        finally:
            closed.append(True)

    chunks = batched(numbers(), max_items=4, max_seconds=60)
    assert next(chunks) == [0, 1, 2, 3]
    chunks.close()
    assert closed == [True]
    assert list(batched(range(5), max_items=2, max_seconds=60)) == [[0, 1], [2, 3], [4]]


def test_filter_combines_bucket_and_file_name_search(qapp):
    model = ResultsModel()
    model.set_results(
        [
            result("wood_a.png", "surface/wood", 0.9),
            result("wood_b.dds", "surface/wood", 0.3),
            result("sky|1.png", "sky", 0.8),
            result("normal.png", "map/normal", 0.95),
        ]  # fmt: skip
    )
    proxy = ResultsFilter()
    proxy.setSourceModel(model)
    names = lambda: sorted(proxy.index(r, 0).data() for r in range(proxy.rowCount()))  # noqa: E731

    proxy.set_bucket("surface/wood")
    assert names() == ["wood_a.png", "wood_b.dds"]
    proxy.set_text("B.D")  # case-insensitive, dots are literal
    assert names() == ["wood_b.dds"]
    proxy.set_text("")
    proxy.set_bucket(FILTER_UNCERTAIN)
    assert names() == ["wood_b.dds"]
    model.set_corrected(["/textures/wood_b.dds"], "surface/metal")  # answered: no longer uncertain
    assert names() == []
    proxy.set_bucket(FILTER_CORRECTED)
    assert names() == ["wood_b.dds"]
    proxy.set_bucket("\0all")
    proxy.set_text("sky|")
    assert names() == ["sky|1.png"]


def test_model_counts_follow_corrections_and_the_uncertain_threshold(qapp):
    model = ResultsModel()
    model.set_results(
        [result("a.png", "sky", 0.9), result("b.png", "sky", 0.4), result("c.png", "prop", 0.6)]
    )
    assert (model.counts()["sky"], model.counts()[FILTER_UNCERTAIN]) == (2, 1)

    previous = model.set_corrected(["/textures/b.png"], "prop")

    assert (model.counts()["sky"], model.counts()["prop"], model.counts()[FILTER_UNCERTAIN]) == (1, 2, 0)
    assert model.data(model.index(model.row_of("/textures/b.png"), 0), Role.Confidence) == 1.0
    model.set_uncertain_below(0.95)
    assert model.counts()[FILTER_UNCERTAIN] == 2
    model.restore_corrected(previous)
    assert model.counts()["sky"] == 2 and model.counts()[FILTER_CORRECTED] == 0
    effective = {r.path: r.category for r in model.effective_results()}
    assert effective["/textures/b.png"] == "sky"


def test_thumbnails_are_decoded_once_then_read_from_the_disk_cache(qtbot, tmp_path):
    path = tmp_path / "big.png"
    Image.fromarray(np.full((300, 200, 4), 90, np.uint8), "RGBA").save(path)
    first = ImageLoader(64, 1 << 20, disk_cache=True)
    assert first.image(str(path)) is None  # not yet: a decode was started
    with qtbot.waitSignal(first.loaded, timeout=5000):
        pass
    image = first.image(str(path))
    assert (image.width(), image.height()) == (43, 64)  # fits 64×64, aspect kept
    first.close()
    from ai.paths import user_cache_dir

    assert len(list((user_cache_dir() / "thumbs").rglob("*.png"))) == 1

    path.write_bytes(b"not a png any more")  # the disk cache is keyed by size and mtime too
    second = ImageLoader(64, 1 << 20, disk_cache=True)
    second.request(str(path))
    with qtbot.waitSignal(second.loaded, timeout=5000):
        pass
    assert second.image(str(path)) is None
    assert second.failure(str(path))
    second.close()


def test_thumbnail_memory_stays_within_its_budget(qtbot, tmp_path):
    loader = ImageLoader(64, 3 * 64 * 64 * 4)
    for i in range(6):
        p = tmp_path / f"t{i}.png"
        Image.fromarray(np.full((64, 64, 4), i * 40, np.uint8), "RGBA").save(p)
        with qtbot.waitSignal(loader.loaded, timeout=5000):
            loader.request(str(p))
    assert loader.memory_used <= loader.memory_bytes
    assert loader.array(str(tmp_path / "t5.png"), request=False) is not None
    assert loader.array(str(tmp_path / "t0.png"), request=False) is None  # least recently used went first
    loader.close()


def test_settings_fall_back_to_defaults_for_unusable_values(tmp_path):
    path = str(tmp_path / "gui.ini")
    settings = Settings(path)
    settings._qs.setValue("view/icon_size", "huge")
    settings.set("folders/recent", ["/a"])
    settings.sync()

    again = Settings(path)
    assert again.get("view/icon_size") == 112
    assert again.get("folders/recent") == ["/a"]  # a one-item list survives the INI round trip
    assert again.remember_folder("folders/recent", "/b") == ["/b", "/a"]
    with pytest.raises(KeyError):
        again.get("no/such/option")


def test_a_thumbnail_cache_file_is_read_only_by_the_texture_decoders(qtbot, tmp_path):
    # The cache folder holds PNGs we wrote; anything else planted there (a GIF, an EPS for
    # Pillow to hand to Ghostscript) is ignored and the texture itself is decoded again.
    path = tmp_path / "red.png"
    Image.fromarray(np.full((32, 32, 4), (200, 0, 0, 255), np.uint8), "RGBA").save(path)
    first = ImageLoader(64, 1 << 20, disk_cache=True)
    with qtbot.waitSignal(first.loaded, timeout=5000):
        first.request(str(path))
    first.close()
    from ai.paths import user_cache_dir

    (cached,) = (user_cache_dir() / "thumbs").rglob("*.png")
    Image.new("RGB", (32, 32), (0, 0, 255)).save(cached, "GIF")
    second = ImageLoader(64, 1 << 20, disk_cache=True)
    with qtbot.waitSignal(second.loaded, timeout=5000):
        second.request(str(path))
    pixels = second.array(str(path), request=False)
    assert tuple(pixels[0, 0]) == (200, 0, 0, 255)
    second.close()
