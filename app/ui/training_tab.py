"""The Training tab: always there; usable when PyTorch is installed, otherwise greyed out with the reason.

Data: the user's corrections and/or a folder with one sub-folder per category. Fine-tuning trains
a new classifier head on the active model's embeddings (fast); "from scratch" trains the small
CNN. The run happens in a worker (`app.ui.training_job`), with a live loss/accuracy plot; the
result can be saved as .onnx or installed and made the active model — after a preview of what it
would do to the open folder (app.ui.training_preview), since a model trained on a few
corrections can move most of a folder into one category. Accuracy is only ever reported on
examples held out of the training; below that many examples the tab says so instead.
"""

from __future__ import annotations

import logging
import os
import shutil
import threading
import time

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtGui import QShowEvent
from PySide6.QtWidgets import (
    QButtonGroup,
    QCheckBox,
    QDoubleSpinBox,
    QFileDialog,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QMessageBox,
    QProgressBar,
    QPushButton,
    QRadioButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from app.scan import ScannedFile
from app.ui.plot import TrainingPlot
from app.ui.results_roles import PENDING
from app.ui.settings import Settings
from app.ui.training_job import (
    MIN_PER_CATEGORY,
    TrainingConfig,
    availability,
    package_and_install,
    training_events,
)
from app.ui.training_preview import ShiftPreview
from app.ui.worker import GeneratorWorker, Op, start_worker

log = logging.getLogger(__name__)

STAGES = {
    "embedding": "Reading the textures through the model",
    "embedding (validation)": "Reading the validation textures",
    "training": "Training",
    "batch": "Training",
}


class TrainingTab(QWidget):
    modelActivated = Signal()
    trainingDone = Signal(object)  # the result, or None when it failed or stopped before a model

    def __init__(self, settings: Settings, session=None, parent: QWidget | None = None):
        super().__init__(parent)
        self.setObjectName("trainingTab")
        self.settings = settings
        self.session = session
        self.available: bool | None = None
        self.reason = ""
        self.result: dict | None = None
        self._worker: GeneratorWorker | None = None
        self._stop: threading.Event | None = None

        self.banner = QLabel(self)
        self.banner.setObjectName("banner")
        self.banner.setWordWrap(True)
        self.banner.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.intro = QLabel(
            "Teach the classifier your categories. <b>Fine-tuning</b> keeps the active model's eyes and "
            "trains a new last layer on your examples (seconds to minutes); <b>from scratch</b> trains a "
            "small network on the examples alone (needs many per category).",
            self,
        )
        self.intro.setWordWrap(True)

        self.form = QWidget(self)
        self.use_corrections = QCheckBox(self.form)
        self.use_folder = QCheckBox(
            "Labelled folder (one sub-folder per category, e.g. a sort output):", self.form
        )
        self.folder = QLineEdit(settings.get("training/folder"), self.form)
        self.folder.setPlaceholderText("Folder with category sub-folders")
        self.use_folder.setChecked(bool(self.folder.text()))
        browse = QPushButton("Browse…", self.form)
        browse.clicked.connect(self._browse)
        folder_row = QHBoxLayout()
        folder_row.addWidget(self.folder, 1)
        folder_row.addWidget(browse)
        data_layout = QVBoxLayout()
        data_layout.addWidget(self.use_corrections)
        data_layout.addWidget(self.use_folder)
        data_layout.addLayout(folder_row)
        data_box = QGroupBox("Examples", self.form)
        data_box.setLayout(data_layout)

        self.fine_tune = QRadioButton("Fine-tune the active model (recommended)", self.form)
        self.scratch = QRadioButton("Train a small network from scratch", self.form)
        group = QButtonGroup(self.form)
        group.addButton(self.fine_tune)
        group.addButton(self.scratch)
        (self.scratch if settings.get("training/mode") == "scratch" else self.fine_tune).setChecked(True)
        self.epochs = QSpinBox(self.form)
        self.epochs.setRange(1, 500)
        self.epochs.setValue(settings.get("training/epochs"))
        self.epochs.setMaximumWidth(120)
        self.learning_rate = QDoubleSpinBox(self.form)
        self.learning_rate.setDecimals(5)
        self.learning_rate.setRange(0.00001, 1.0)
        self.learning_rate.setSingleStep(0.0005)
        self.learning_rate.setValue(settings.get("training/learning_rate"))
        self.learning_rate.setMaximumWidth(120)
        self.name = QLineEdit(settings.get("training/name"), self.form)
        self.name.setToolTip("The trained model's name: in the Models menu, the status bar and a shared package")
        model_form = QFormLayout()
        model_form.addRow(self.fine_tune)
        model_form.addRow(self.scratch)
        model_form.addRow("Epochs:", self.epochs)
        model_form.addRow("Learning rate:", self.learning_rate)
        model_form.addRow("Name:", self.name)
        model_box = QGroupBox("Training", self.form)
        model_box.setLayout(model_form)

        self.start_button = QPushButton("Start Training", self.form)
        self.start_button.setObjectName("primary")
        self.start_button.clicked.connect(self.start)
        self.stop_button = QPushButton("Stop", self.form)
        self.stop_button.setEnabled(False)
        self.stop_button.clicked.connect(self.stop)
        self.export_button = QPushButton("Save as ONNX…", self.form)
        self.export_button.setEnabled(False)
        self.export_button.clicked.connect(self.export_onnx)
        self.activate_button = QPushButton("Install and Use", self.form)
        self.activate_button.setEnabled(False)
        self.activate_button.setToolTip("Install the trained model and make it the active one")
        self.activate_button.clicked.connect(self.activate)
        buttons = QHBoxLayout()
        buttons.addWidget(self.start_button)
        buttons.addWidget(self.stop_button)
        buttons.addStretch(1)
        buttons.addWidget(self.export_button)
        buttons.addWidget(self.activate_button)

        self.stage = QLabel("", self.form)
        self.stage.setObjectName("muted")
        self.progress = QProgressBar(self.form)
        self.progress.setVisible(False)
        self.plot = TrainingPlot(self.form)
        self.plot.reset(self.epochs.value())
        self.outcome = QLabel("", self.form)
        self.outcome.setWordWrap(True)
        self.warning = QLabel("", self.form)
        self.warning.setObjectName("banner")
        self.warning.setWordWrap(True)
        self.warning.setVisible(False)
        self.preview = ShiftPreview(self.form)
        self.preview.ready.connect(lambda _shift: self._sync_buttons())
        self._started_at = 0.0
        self._last_event = 0.0
        self._clock = QTimer(self)
        self._clock.setInterval(1000)
        self._clock.timeout.connect(self._tick)

        top = QHBoxLayout()
        top.addWidget(data_box, 3)
        top.addWidget(model_box, 2)
        form_layout = QVBoxLayout(self.form)
        form_layout.setContentsMargins(0, 0, 0, 0)
        form_layout.addLayout(top)
        form_layout.addLayout(buttons)
        form_layout.addWidget(self.stage)
        form_layout.addWidget(self.progress)
        form_layout.addWidget(self.warning)
        form_layout.addWidget(self.plot, 1)
        form_layout.addWidget(self.outcome)
        form_layout.addWidget(self.preview, 1)

        layout = QVBoxLayout(self)
        layout.setContentsMargins(14, 12, 14, 12)
        layout.addWidget(self.banner)
        layout.addWidget(self.intro)
        layout.addWidget(self.form, 1)
        self.banner.setVisible(False)
        self.refresh_corrections()

    # -- availability ---------------------------------------------------------------------------

    def showEvent(self, event: QShowEvent) -> None:
        super().showEvent(event)
        if self.available is None:
            self.check_availability()
        self.refresh_corrections()

    def check_availability(self) -> bool:
        """Look for PyTorch (imports it: done when the tab is first shown, not at start-up)."""
        self.available, self.reason = availability()
        import gc

        gc.freeze()  # torch's many module objects: out of the collector's sight (see main_window.freeze_heap)
        self.banner.setText(self.reason)
        self.banner.setVisible(not self.available)
        self.intro.setVisible(self.available)
        self.form.setEnabled(self.available)
        if not self.available:
            self.form.setToolTip(self.reason)
        self._sync_buttons()
        return self.available

    def refresh_corrections(self) -> None:
        n = self._corrections_count()
        self.use_corrections.setText(f"My corrections ({n:,} textures)")
        if n == 0:
            self.use_corrections.setChecked(False)
        elif not self.use_folder.isChecked():
            self.use_corrections.setChecked(True)

    def _learner(self):
        manager = getattr(self.session, "manager", None)
        return getattr(manager, "learner", None)

    def _corrections_count(self) -> int:
        learner = self._learner()
        return len(learner) if learner is not None else 0

    # -- running ----------------------------------------------------------------------------------

    @property
    def is_running(self) -> bool:
        return self._worker is not None and self._worker.running

    def _browse(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Labelled folder", self.folder.text())
        if folder:
            self.folder.setText(folder)
            self.use_folder.setChecked(True)

    def config(self) -> TrainingConfig:
        mode = "scratch" if self.scratch.isChecked() else "fine-tune"
        base = None
        manager = getattr(self.session, "manager", None)
        offline = getattr(manager, "offline_model", None)
        if offline is not None and offline.has_embedding:
            base = str(offline.model_path)
        corrections = []
        learner = self._learner()
        if self.use_corrections.isChecked() and learner is not None:
            corrections = learner.store.current(with_embeddings=False)
        folder = self.folder.text().strip() if self.use_folder.isChecked() else None
        return TrainingConfig(mode=mode, epochs=self.epochs.value(), learning_rate=self.learning_rate.value(),
                              base_model=base, folder=folder or None, corrections=corrections,
                              name=self.name.text().strip() or "My trained model")  # fmt: skip

    def start(self) -> GeneratorWorker | None:
        if self.is_running or not self.available:
            return None
        config = self.config()
        if config.folder and not os.path.isdir(config.folder):
            self.outcome.setText(f"{config.folder} is not a folder.")
            return None
        if not config.folder and not config.corrections:
            self.outcome.setText("Choose the examples: your corrections and/or a labelled folder.")
            return None
        s = self.settings
        s.set("training/mode", config.mode)
        s.set("training/epochs", config.epochs)
        s.set("training/learning_rate", config.learning_rate)
        if config.folder:
            s.set("training/folder", config.folder)
        s.set("training/name", config.name)
        self.result = None
        self.plot.reset(config.epochs)
        self.outcome.setText("")
        self.warning.setVisible(False)
        self.preview.clear()
        self._started_at = self._last_event = time.monotonic()
        self._clock.start()
        self.stage.setText("Preparing the examples…")
        self.progress.setVisible(True)
        self.progress.setRange(0, 0)
        stop = threading.Event()
        self._stop = stop
        self._worker = start_worker(lambda: training_events(config, stop), on_yield=self._event,
                                    on_finish=self._finished, on_error=self._failed,
                                    on_done=self._sync_buttons)  # fmt: skip
        self._sync_buttons()
        return self._worker

    def stop(self) -> None:
        if self._stop is not None:
            self._stop.set()
            self.stage.setText("Stopping after this batch; the best model so far is kept…")
            self.stop_button.setEnabled(False)

    def _event(self, event: dict) -> None:
        kind = event["kind"]
        self._last_event = time.monotonic()
        if kind == "dataset":
            counts = event["counts"]
            text = f"{sum(counts.values()):,} examples in {len(counts)} categories"
            if event["missing"]:
                text += f" ({event['missing']:,} corrected files are gone and were left out)"
            self.stage.setText(text)
            self._warn_thin(event.get("thin", []))
        elif kind == "stage":
            done, total = event["done"], event["total"]
            self.stage.setText(f"{STAGES.get(event['stage'], event['stage'])}: {done:,} of {total:,}")
            self.progress.setRange(0, max(1, total))
            self.progress.setValue(done)
            if done >= total:  # the next step reports nothing until its first epoch: show it is busy
                self.progress.setRange(0, 0)
        elif kind == "epoch":
            metrics = event["metrics"]
            self.plot.add(metrics)
            # Accuracy on the training examples themselves says nothing of the model: only held-out counts.
            text = f"Epoch {event['done']} of {event['total']}: loss {metrics['loss']:.3f}"
            if metrics.get("val_accuracy") is not None:
                text += f", accuracy on held-out examples {metrics['val_accuracy']:.0%}"
            self.stage.setText(text)
            self.progress.setRange(0, event["total"])
            self.progress.setValue(event["done"])

    def _warn_thin(self, thin: list) -> None:
        if not thin:
            self.warning.setVisible(False)
            return
        names = ", ".join(f"{c} ({n})" for c, n in thin[:8]) + (" …" if len(thin) > 8 else "")
        self.warning.setText(
            f"<b>Too few examples:</b> {names}. With fewer than {MIN_PER_CATEGORY} examples of a category the "
            "model learns it poorly and may pull other textures into it; check the preview before installing."
        )
        self.warning.setVisible(True)

    def _tick(self) -> None:
        """Once a second while training: the time so far, so a long silent step still shows life."""
        if not self.is_running:
            self._clock.stop()
            return
        elapsed = int(time.monotonic() - self._started_at)
        quiet = time.monotonic() - self._last_event
        text = self.stage.text().split("  ·  ")[0]
        note = f"{elapsed // 60}:{elapsed % 60:02d}" + (" (working…)" if quiet > 2 else "")
        self.stage.setText(f"{text}  ·  {note}")

    def _finished(self, result: dict | None) -> None:
        self.progress.setVisible(False)
        self._clock.stop()
        if result is None:
            self.stage.setText("Stopped.")
            self.trainingDone.emit(None)
            return
        self.result = result
        self.stage.setText("Done.")
        self.outcome.setText(outcome_text(result) + " Save it as ONNX, or see below what it would change here.")
        self._start_preview(result["model_path"])
        self.trainingDone.emit(result)

    def _start_preview(self, model_path: str) -> None:
        """Classify the open folder with the trained model and show how its categories would shift."""
        model = getattr(self.session, "model", None)
        results = model.results() if model is not None else []
        shown = [r for r in results if not r.error and r.source != PENDING]
        before = {r.path: model.category(r) for r in shown if model.category(r)}
        answers = {p: model.answer_for(p) for p in before if model.answer_for(p)}
        files = [ScannedFile(r.path, r.size, r.mtime) for r in shown]
        self.preview.start(model_path, before, answers, files)
        self._sync_buttons()

    def _failed(self, exc: BaseException) -> None:
        self.progress.setVisible(False)
        self._clock.stop()
        self.stage.setText("")
        self.outcome.setText(f"<b>Training failed:</b> {exc}")
        window = self.window()
        if hasattr(window, "report_error"):
            window.report_error("Training", exc)
        self.trainingDone.emit(None)

    def _sync_buttons(self) -> None:
        running = self.is_running
        self.start_button.setEnabled(bool(self.available) and not running)
        self.stop_button.setEnabled(running)
        has_model = self.result is not None and not running
        self.export_button.setEnabled(has_model)
        self.activate_button.setEnabled(has_model and not self.preview.is_running)

    # -- using the result -------------------------------------------------------------------------

    def export_onnx(self) -> None:
        if self.result is None:
            return
        source = self.result["model_path"]
        target, _ = QFileDialog.getSaveFileName(
            self, "Save trained model", os.path.basename(source), "ONNX models (*.onnx)"
        )
        if not target:
            return
        try:
            shutil.copy2(source, target)
        except OSError as exc:
            QMessageBox.warning(self, "Cannot save", f"{target}: {exc.strerror or exc}")
            return
        self.outcome.setText(f"Saved {target}.")

    def activate(self) -> Op | None:
        if self.result is None or self.preview.is_running:
            return None
        shift = self.preview.shift
        if shift is not None and shift.is_big:
            answer = QMessageBox.question(
                self, "Install and Use",
                f"This model would change the category of {shift.moved:,} of {shift.files:,} textures here"
                + (f" and leave none in {', '.join(shift.vanished)}" if shift.vanished else "")
                + ".\n\nInstall it and use it anyway?",
            )  # fmt: skip
            if answer != QMessageBox.StandardButton.Yes:
                return None
        name, version = self.result["name"], self.result["version"]

        def done(info: dict) -> None:
            self.outcome.setText(f"Installed {info['name']} {info['version']}; it is now the active model.")
            self.modelActivated.emit()

        op = (
            Op(self, package_and_install, self.result["model_path"], name, version)
            .success(done)
            .failure(lambda exc: QMessageBox.warning(self, "Cannot install the model", str(exc)))
        )
        op.run()
        return op

    def shutdown(self) -> None:
        if self._stop is not None:
            self._stop.set()
        self.preview.cancel()


def outcome_text(result: dict) -> str:
    """What a finished training says about itself: accuracy only on held-out examples, or that there were too few."""
    from ai.training_pytorch.workflows import MIN_VALIDATION_SET  # only once a training has run

    summary = result["summary"]
    images = summary.get("images", 0)
    held_out = summary.get("val_images", 0)
    accuracy = summary.get("val_accuracy", summary.get("best_val_accuracy"))
    text = f"Trained {result['name']} {result['version']} on {images:,} textures."
    if accuracy is not None and held_out:
        text += f" Accuracy on {held_out:,} examples held out of the training: {accuracy:.0%}."
    else:
        text += (
            f" Accuracy not measured: {images:,} examples are too few to hold some out"
            f" ({MIN_VALIDATION_SET} or more are needed)."
        )
    if result.get("stopped"):
        text += " Stopped early: the best epoch so far was kept."
    return text
