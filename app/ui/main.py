"""`run_gui(paths)`: start the desktop application (what `texture-sorter` with no subcommand runs)."""

from __future__ import annotations

import logging
import os
import sys
import time

from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QApplication, QMessageBox

from ai import __version__
from app.ui.icons import app_icon, style_sheet

log = logging.getLogger(__name__)

APP_NAME = "Texture Sorter"
GUI_SWITCH_INTERVAL_S = 0.001


def create_application(argv: list[str] | None = None) -> QApplication:
    """The QApplication with name, icon and style (reuses one that exists, as tests have)."""
    app = QApplication.instance()
    if app is None:
        app = QApplication(argv if argv is not None else [sys.argv[0]])
    app.setApplicationName(APP_NAME)
    app.setApplicationDisplayName(APP_NAME)
    app.setOrganizationName("texture-sorter")
    app.setApplicationVersion(__version__)
    app.setWindowIcon(app_icon())
    app.setStyle("Fusion")  # the same look everywhere; the style sheet only adjusts it
    app.setStyleSheet(style_sheet())
    # Every Qt call a slot makes may hand the GIL to the pipeline's threads; at the default 5 ms
    # switch interval a slot with ten such calls waits 50 ms. 1 ms keeps the window fluid.
    sys.setswitchinterval(GUI_SWITCH_INTERVAL_S)
    return app


def _install_excepthook(window) -> None:
    """Uncaught exceptions in slots go to the problems panel (and the log), not to a dead program."""
    previous = sys.excepthook

    def hook(kind, value, tb):
        log.error("uncaught exception", exc_info=(kind, value, tb))
        try:
            window.report_error("Unexpected error", value)
        except Exception:  # the window may be gone while closing; the log has it
            previous(kind, value, tb)

    sys.excepthook = hook


def run_gui(paths: list[str]) -> int:
    """Open the main window (on `paths`, if any: folders, texture files or .ps2model packages)."""
    app = create_application()
    from app.ui.main_window import MainWindow

    window = MainWindow()
    _install_excepthook(window)
    window.show()
    exit_mode = os.environ.get("TEXTURE_SORTER_EXIT_AFTER_SHOWN")
    if exit_mode == "1":
        # Start-up timing and the frozen smoke test (build/measure.py, build/smoke_test.py).
        def _shown() -> None:
            print(f"TEXTURE_SORTER_SHOWN {time.time():.6f}", flush=True)
            app.quit()  # aboutToQuit below stops background work first

        QTimer.singleShot(0, _shown)
    elif exit_mode == "dialog":
        # The frozen smoke test of `texture-sorter FILE.ps2model`: print the first message box the
        # user would see (the import's answer), close it and quit.
        def _answered() -> None:
            box = app.activeModalWidget()
            if not isinstance(box, QMessageBox):
                QTimer.singleShot(50, _answered)
                return
            text = " ".join(box.text().split())
            print(f"TEXTURE_SORTER_DIALOG {box.windowTitle()}: {text}", flush=True)
            app.quit()
            box.reject()

        QTimer.singleShot(0, _answered)
    if paths:
        QTimer.singleShot(0, lambda: window.open_paths(list(paths)))
    QTimer.singleShot(300, window.check_unfinished_sorts)
    # The daily model update check: in the background, after the window is up (app.ui.update_notice).
    from app.ui.update_notice import start_update_check

    QTimer.singleShot(1500, lambda: start_update_check(window))
    # Any other way out (app.quit(), a session ending) must also stop workers before Python shuts down.
    app.aboutToQuit.connect(window.shutdown_background_work)
    return int(app.exec())
