"""Shared fixtures of the GUI tests: a main window on the tiny model, and a helper to classify a folder."""

from __future__ import annotations

import pytest

pytest.importorskip("PySide6")
pytest.importorskip("pytestqt")


@pytest.fixture
def window(qtbot, tiny_model):
    """A shown main window classifying with the tiny model; closed and drained afterwards."""
    from PySide6.QtCore import QThreadPool

    from app.ui.main import create_application
    from app.ui.main_window import MainWindow

    create_application()
    win = MainWindow(model_path=str(tiny_model))
    qtbot.addWidget(win)
    win.show()
    yield win
    win.close()
    QThreadPool.globalInstance().waitForDone()


@pytest.fixture
def classify(qtbot):
    """classify(window, *paths) opens the paths and waits until classification has finished."""

    def run(win, *paths, timeout=60_000):
        with qtbot.waitSignal(win.session.finished, timeout=timeout) as blocker:
            win.open_paths([str(p) for p in paths])
        return blocker.args[0]

    return run


@pytest.fixture
def settle(qtbot):
    """settle(window): wait for queued corrections and re-ranking to reach the model."""

    def run(win, timeout_ms=30_000):
        assert win.session._writer.waitForDone(timeout_ms)
        qtbot.wait(20)  # deliver the writer's queued result signals

    return run


@pytest.fixture
def paint_cell():
    """paint_cell(window, proxy_index) → (image of the grid cell as the delegate paints it, its thumbnail area)."""
    from PySide6.QtCore import QRect
    from PySide6.QtGui import QColor, QImage, QPainter
    from PySide6.QtWidgets import QStyleOptionViewItem

    def run(win, index):
        delegate = win.results_view.grid_delegate
        option = QStyleOptionViewItem()
        option.initFrom(win.results_view.grid)
        size = delegate.sizeHint(option, index)
        option.rect = QRect(0, 0, size.width(), size.height())
        canvas = QImage(size, QImage.Format.Format_RGB32)
        canvas.fill(QColor("#ffffff"))
        painter = QPainter(canvas)
        delegate.paint(painter, option, index)
        painter.end()
        pad, icon = delegate.PADDING, delegate.icon_size
        return canvas, QRect(2 + (size.width() - 4 - icon) // 2, 2 + pad, icon, icon)

    return run
