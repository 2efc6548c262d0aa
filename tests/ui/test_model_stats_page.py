"""The Models dialog's Statistics page: figures from the user's answers, a confusion matrix and a timeline drawn."""

from __future__ import annotations

import pytest
from PySide6.QtCore import QThreadPool
from PySide6.QtGui import QColor

from ai.learning.records import CorrectionRecord
from ai.learning.store import TrainingDataStore
from ai.offline_model import file_sha256
from ai.packages.exporter import ModelExporter, ModelImporter
from ai.taxonomy import default_categories
from app.ui.main import create_application
from app.ui.models_ui import ModelActions, ModelsDialog

ANSWERS = [  # (first guess, the model alone, your answer) × count
    (("surface/wood", "surface/wood", "surface/wood"), 30),
    (("surface/wood", "surface/metal", "surface/metal"), 12),
    (("sky", "sky", "sky"), 20),
    (("surface/metal", "surface/metal", "surface/wood"), 8),
]


@pytest.fixture
def answered(tmp_path, model_builder):
    model = model_builder(tmp_path / "m.onnx", default_categories(), seed=4)
    ModelExporter().export_model(model, tmp_path / "m.ps2model", "Stats Model", "1.0")
    result = ModelImporter().import_model(tmp_path / "m.ps2model", activate=True)
    model_id = f"tiny-test-{file_sha256(result['model_path'])[:16]}"
    store = TrainingDataStore()
    n = 0
    for (shown, raw, truth), count in ANSWERS:
        for _ in range(count):
            store.add(CorrectionRecord(f"/dump/{n}.png", f"hash{n}", truth, original_category=shown,
                                       timestamp=1_700_000_000.0 + n, model_id=model_id,
                                       metadata={"model_guess": raw}))  # fmt: skip
            n += 1
    store.close()
    return n


def test_the_statistics_page_shows_the_figures_and_draws_them(qtbot, answered):
    create_application()
    dialog = ModelsDialog(ModelActions(None))
    qtbot.addWidget(dialog)
    dialog.show()
    page = dialog.stats_page
    with qtbot.waitSignal(page.loaded, timeout=30_000):
        dialog.tabs.setCurrentWidget(page)
    assert page.model_combo.currentText() == f"Stats Model 1.0  ({answered} answers)"
    right = 30 + 20  # first guesses equal to the answer
    assert f"first guesses right <b>{right / answered:.0%}</b> ({right} of {answered})" in page.summary.text()
    model_right = 30 + 12 + 20
    assert f"The model alone: {model_right / answered:.0%} on {answered}" in page.summary.text()
    assert f"added {(right - model_right) / answered * 100:+.1f} points (fixed 0, broke 12)" in page.summary.text()
    # The matrix: rows are answers, columns first guesses, over sky, surface/metal, surface/wood.
    assert page.matrix.labels == ["sky", "surface/metal", "surface/wood"]
    assert page.matrix.matrix == [[20, 0, 0], [0, 0, 12], [0, 8, 30]]
    assert [p["count"] for p in page.plot.points] == [23, 24, 23]  # 70 answers in one day: three runs of about 23
    table = {page.table.item(r, 0).text(): [page.table.item(r, c).text() for c in range(1, 4)]
             for r in range(page.table.rowCount())}  # fmt: skip
    assert table["surface/wood"] == ["71%", "79%", "38"]  # 30 of 42 guesses, 30 of 38 answers
    assert table["surface/metal"] == ["0%", "0%", "12"]
    assert "surface/wood → surface/metal (12)" in page.confusions.text()

    image = page.matrix.grab().toImage()
    colours = {QColor(image.pixel(x, y)).name() for x in range(0, image.width(), 3) for y in range(0, image.height(), 3)}
    assert len(colours) > 20  # cells, labels and shades were painted, not a blank widget
    plot = page.plot.grab().toImage()
    blue = sum(QColor(plot.pixel(x, y)).blue() > 180 and QColor(plot.pixel(x, y)).red() < 120
               for x in range(plot.width()) for y in range(plot.height()))  # fmt: skip
    assert blue > 50  # the accuracy line
    dialog.close()
    QThreadPool.globalInstance().waitForDone()


def test_with_no_answers_the_page_says_how_to_get_some(qtbot):
    create_application()
    dialog = ModelsDialog(ModelActions(None))
    qtbot.addWidget(dialog)
    with qtbot.waitSignal(dialog.stats_page.loaded, timeout=30_000):
        dialog.show_statistics()
    assert dialog.stats_page.summary.text().startswith("No answers recorded yet.")
    assert dialog.stats_page.matrix.labels == []
    dialog.close()
    QThreadPool.globalInstance().waitForDone()
