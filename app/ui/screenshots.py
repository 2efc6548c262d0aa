"""Screenshots of the GUI for the README: main window, alpha views, an answer after a restart,
the 1024×700 layout, sort and review dialogs, the Training tab and its preview of a trained model,
the Get Models dialog and the Models dialog's Statistics page.

    python -m app.ui.screenshots resources/screenshots [--folder DIR] [--model MODEL.onnx] [--only library]

Runs offscreen (QT_QPA_PLATFORM=offscreen unless set) in a fresh, temporary user folder, so the
pictures show what a new user sees and nothing of yours is read or changed. It classifies the
real fixture textures (tests/fixtures/0ad and redeclipse) with the active model (the shipped
one), and, when PyTorch is installed, fine-tunes on a copy sort of them to have a real training
curve, then trains on four corrections to show the preview of what such a model would change.
The library shots (`app.ui.screenshot_library`) follow a folder catalog of packages made from the
shipped model and answer 240 generated textures through the window.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent.parent
SIZE = (1360, 860)
SMALL = (1024, 700)
REAL_FIXTURES = [ROOT / "tests" / "fixtures" / "0ad", ROOT / "tests" / "fixtures" / "redeclipse"]
DATA_ALPHA = "kart_round_ah.dds.cached.dds"  # a shield whose alpha is a team-colour mask


def wait_until(condition: Callable[[], bool], timeout: float = 120.0) -> bool:
    from PySide6.QtWidgets import QApplication

    end = time.monotonic() + timeout
    while time.monotonic() < end:
        QApplication.processEvents()
        if condition():
            return True
        time.sleep(0.01)
    return False


def settle(seconds: float = 0.4) -> None:
    wait_until(lambda: False, seconds)


def save(widget, path: Path) -> Path:
    settle(0.2)
    widget.grab().save(str(path))
    print(f"wrote {path}")
    return path


def _area(result) -> int:
    return result.info.width * result.info.height if result.info else 0


def labelled_copy(results, out: Path) -> Path:
    """Copy-sort the classified fixtures into OUT/<category>/ (a folder-per-category training set)."""
    from app.sorting import apply_plan, build_plan

    root = os.path.commonpath([r.path for r in results])
    apply_plan(build_plan(results, out, source_root=root))
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m app.ui.screenshots", description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path, help="folder for the PNG files")
    parser.add_argument(
        "--folder", type=Path, action="append", help="textures to classify (default: the real fixtures)"
    )
    parser.add_argument("--model", help="ONNX model to classify with (default: the active one)")
    parser.add_argument(
        "--no-training", action="store_true", help="do not run a training for the Training tab"
    )
    parser.add_argument("--only", choices=("library",), help="only the Get Models and Statistics shots")
    args = parser.parse_args(argv)
    args.folder = args.folder or REAL_FIXTURES
    for folder in args.folder:
        if not folder.is_dir():
            parser.error(f"{folder}: not a folder")
    args.out.mkdir(parents=True, exist_ok=True)
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    with tempfile.TemporaryDirectory(prefix="texture-sorter-shots-") as home:
        os.environ["TEXTURE_SORTER_HOME"] = home
        return _shoot(args, Path(home))


def _classify(window, folders) -> bool:
    finished = []
    window.session.finished.connect(finished.append)
    window.open_paths([str(f) for f in folders])
    ok = wait_until(lambda: bool(finished), 300)
    window.session.finished.disconnect(finished.append)
    return ok


def _select(window, name: str) -> int:
    model = window.model
    row = next(r for r in range(model.rowCount()) if model.result(r).path.endswith(os.sep + name))
    window.sidebar.select_bucket("\0all")
    window.results_view.select_source_row(row)
    wait_until(lambda: bool(window.detail.results) and window.detail.results[0].path == model.result(row).path, 10)
    wait_until(lambda: window.detail.preview.image is not None, 30)
    return row


def alpha_modes(window, out: Path) -> Path:
    """The detail pane's preview of a texture whose alpha holds data, in each channel mode, side by side."""
    from PySide6.QtCore import QPoint, Qt
    from PySide6.QtGui import QColor, QImage, QPainter

    from app.ui import channels

    _select(window, DATA_ALPHA)
    panels = []
    for mode in channels.MODES:
        window.detail.channels.set_mode(mode, emit=True)
        settle(0.3)
        panels.append((channels.LABELS[mode], window.detail.preview.grab().toImage()))
    width = sum(p.width() for _, p in panels) + 10 * (len(panels) + 1)
    height = max(p.height() for _, p in panels) + 40
    sheet = QImage(width, height, QImage.Format.Format_RGB32)
    sheet.fill(QColor("#f6f7f9"))
    painter = QPainter(sheet)
    x = 10
    for label, panel in panels:
        painter.drawImage(QPoint(x, 10), panel)
        painter.setPen(QColor("#1f2328"))
        painter.drawText(x, 10 + panel.height(), panel.width(), 28, Qt.AlignmentFlag.AlignCenter, label)
        x += panel.width() + 10
    painter.end()
    window.detail.channels.set_mode("auto", emit=True)
    sheet.save(str(out))
    print(f"wrote {out}")
    return out


def _shoot(args, home: Path) -> int:
    from PySide6.QtWidgets import QApplication

    from app.ui.main import create_application
    from app.ui.main_window import MainWindow
    from app.ui.results_roles import FILTER_CORRECTED, FILTER_UNCERTAIN

    create_application()
    window = MainWindow(model_path=args.model)
    window.resize(*SIZE)
    window.show()
    if args.only == "library":
        return _shoot_library(args, home, window)
    if not _classify(window, args.folder):
        print("classification did not finish", file=sys.stderr)
        return 1
    model = window.model
    # Show a texture the model is unsure about: what the detail pane is for.
    rows = [r for r in range(model.rowCount()) if model.is_uncertain(model.result(r))] or [0]
    rows.sort(key=lambda r: -_area(model.result(r)))  # the largest: a picture, not a 1×8 strip
    window.results_view.select_source_row(rows[0])
    wait_until(lambda: window.thumbnails.memory_used > 0 and window.detail.preview.image is not None, 30)
    settle(1.0)
    save(window, args.out / "main_window.png")

    window.set_view_mode("details")
    settle()
    save(window, args.out / "main_window_details.png")
    window.set_view_mode("grid")

    if any(model.result(r).path.endswith(DATA_ALPHA) for r in range(model.rowCount())):
        alpha_modes(window, args.out / "alpha_modes.png")

    window.resize(*SMALL)
    settle(0.6)
    save(window, args.out / "layout_1024x700.png")
    window.resize(*SIZE)

    dialog = window.show_sort_dialog()
    dialog.form.output.setText(str(home / "sorted"))
    dialog.form.dedupe_combo.setCurrentIndex(dialog.form.dedupe_combo.findData("near"))
    wait_until(lambda: dialog.run_button.isEnabled(), 60)
    save(dialog, args.out / "sort_dialog.png")
    dialog.reject()

    if model.counts()[FILTER_UNCERTAIN]:
        window.review_action.trigger()
        review = window.review_dialog
        paths = review.paths
        review.position = max(range(len(paths)), key=lambda i: _area(model.result(model.row_of(paths[i]))))
        review.show_current(skip_settled=False)
        wait_until(lambda: review.preview.image is not None, 30)
        save(review, args.out / "review_uncertain.png")
        review.close()

    tab = window.training_tab
    window.tabs.setCurrentWidget(tab)
    settle()
    if tab.available and not args.no_training:
        # Textures under 4 px a side are left out: ai.training_pytorch.augment_rgba cannot crop them yet.
        usable = [r for r in model.effective_results() if r.info and min(r.info.width, r.info.height) >= 4]
        data = labelled_copy(usable, home / "labelled")
        tab.use_corrections.setChecked(False)
        tab.use_folder.setChecked(True)
        tab.folder.setText(str(data))
        tab.epochs.setValue(12)
        _train(tab)
    save(window, args.out / "training_tab.png")

    # Four answers, then a restart: the answer is still shown (✓, "Corrected by you", the detail pane).
    window.tabs.setCurrentWidget(window.pages)
    answered = []
    for r in (2, 5, 9, 14):
        window.results_view.select_source_row(r)
        wait_until(lambda r=r: bool(window.detail.results) and window.detail.results[0].path == model.result(r).path, 10)
        ranked = window.detail.ranked()
        answered.append((os.path.basename(model.result(r).path), ranked[1] if len(ranked) > 1 else ranked[0]))
        window.correct_selection(answered[-1][1])
    window.session._writer.waitForDone(30_000)
    settle()
    window.close()
    QApplication.processEvents()
    window = MainWindow(model_path=args.model)
    window.resize(*SIZE)
    window.show()
    _classify(window, args.folder)
    window.sidebar.select_bucket(FILTER_CORRECTED)
    settle(0.3)
    window.results_view.select_proxy_row(0)
    wait_until(lambda: bool(window.detail.results) and window.detail.preview.image is not None, 30)
    settle(1.0)
    window.sidebar.select_bucket(FILTER_CORRECTED)
    settle(0.5)
    save(window, args.out / "corrected_after_restart.png")

    tab = window.training_tab
    window.tabs.setCurrentWidget(tab)  # its first showing looks for PyTorch
    settle()
    if tab.available and not args.no_training:
        tab.use_folder.setChecked(False)
        tab.use_corrections.setChecked(True)
        tab.name.setText("Four answers")
        tab.epochs.setValue(8)
        if _train(tab):
            wait_until(lambda: tab.preview.shift is not None or not tab.preview.is_running, 300)
            settle(0.5)
            save(window, args.out / "training_preview.png")
    return _shoot_library(args, home, window)


def _shoot_library(args, home: Path, window) -> int:
    from PySide6.QtWidgets import QApplication

    from app.ui import screenshot_library as library
    from app.ui.models_ui import ModelsDialog

    library.make_catalog(home)
    dialog = window.show_get_models_dialog()
    wait_until(lambda: dialog.table.rowCount() == len(library.PACKAGES) and dialog.refresh_button.isEnabled(), 60)
    dialog.select("PS2 Racing Textures", "1.2")
    dialog.resize(900, 420)
    save(dialog, args.out / "get_models.png")
    dialog.close()

    truth = library.generated_textures(home / "generated")
    finished = []
    window.session.finished.connect(finished.append)
    window.open_paths([str(home / "generated")])
    if not wait_until(lambda: bool(finished), 300):
        print("classification did not finish", file=sys.stderr)
        return 1
    library.answer_all(window, truth, settle)
    models = ModelsDialog(window.model_actions, window)
    models.resize(980, 640)
    models.show()
    loaded = []
    models.stats_page.loaded.connect(lambda: loaded.append(True))
    models.show_statistics()
    wait_until(lambda: bool(loaded), 120)
    save(models, args.out / "model_stats.png")
    models.close()
    window.close()
    QApplication.processEvents()
    return 0


def _train(tab) -> bool:
    done = []
    tab.trainingDone.connect(done.append)
    if tab.start() is None:
        return False
    wait_until(lambda: bool(done), 600)
    return bool(done and done[0] is not None)


if __name__ == "__main__":
    sys.exit(main())
