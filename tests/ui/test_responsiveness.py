"""The UI thread never decodes or runs a model while a folder classifies, and huge folders cost only
what is visible. The event loop's longest gap is a measured figure (`texture-sorter bench --gui`,
README), not an assertion here: a loaded machine stretches it."""

from __future__ import annotations

import json

from app.cli import main
from app.ui.responsiveness import UiThreadWatch, write_test_folder
from app.ui.results_roles import placeholder


def test_classifying_correcting_and_browsing_do_no_decoding_or_model_work_on_the_ui_thread(
    window, tmp_path, qtbot, settle
):
    folder = tmp_path / "dump"
    write_test_folder(folder, 600)
    with UiThreadWatch() as watch:
        with qtbot.waitSignal(window.session.finished, timeout=180_000) as finished:
            window.open_paths([str(folder)])
        qtbot.wait(300)  # thumbnails of the visible items arrive after the last batch
        view = window.results_view.grid
        view.setCurrentIndex(view.model().index(0, 0))
        qtbot.wait(200)  # the detail pane's preview
        window.correct_selection("surface/wood")  # the learner re-ranks the folder
        settle(window)
        window.sidebar.select_bucket("surface/wood")  # a filter change redraws thumbnails
        window.set_view_mode("details")
        qtbot.wait(200)
    summary = finished.args[0]
    assert summary.files == 600 and summary.errors == 0
    assert window.model.classified_count() == 600
    # The instruments saw the work: decodes and model runs happened, all of it off the UI thread.
    assert watch.workers["decode"] >= 600 and watch.workers["model"] >= 600 // 8
    assert watch.workers["learner"] >= 1
    assert not watch.ui, f"work done on the UI thread: {dict(watch.ui)}"


def test_the_watch_counts_ui_thread_work(tiny_model, tmp_path):
    """The check above can fail: the same instruments count a decode and a model call made here."""
    from ai.offline_model import OfflineModel
    from ai.textures import load_texture

    write_test_folder(tmp_path, 1)
    with UiThreadWatch() as watch:
        pixels = load_texture(next(tmp_path.rglob("*.png"))).pixels
        OfflineModel(tiny_model).predict(pixels)
    assert watch.ui["decode"] == 1 and watch.ui["model"] == 1 and not watch.workers


def test_bench_gui_reports_gaps_and_ui_thread_work(tiny_model, tmp_path, capsys):
    from PySide6.QtCore import QThreadPool

    out = tmp_path / "gui.json"
    assert main(["bench", "--gui", "120", "--model", str(tiny_model), "--json", str(out)]) == 0
    figures = json.loads(out.read_text())
    assert figures["files"] == 120 and figures["heartbeats"] > 0
    assert figures["max_gap_ms"] >= figures["p99_gap_ms"] >= figures["median_gap_ms"] > 0
    assert figures["ui_thread_calls"] == {} and figures["worker_calls"]["decode"] >= 120
    assert "longest gap" in capsys.readouterr().out
    QThreadPool.globalInstance().waitForDone()


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
